"""Schedule events (EventBridge `rate(...)` rules with a Lambda target) in the local stack.

Each enabled `Type: Schedule` event of a function invokes it, with the envelope EventBridge
sends, once per period on a daemon thread of its own. The period is scaled by the stack's
time scale like every other wait (docs/local-stack.md). The first run comes one period after
the start, as on AWS. `cron(...)` expressions are not supported locally.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jobgate_cli.local.event_sources import (
    BackgroundLoop,
    Invoke,
    UnsupportedMappingProperty,
    boolean_property,
    reject_unknown_properties,
)
from jobgate_cli.local.eventbridge import event_envelope
from jobgate_cli.sam_template import LOCAL_ACCOUNT_ID, LOCAL_REGION

SUPPORTED_PROPERTIES = frozenset({"Schedule", "Enabled", "Name", "Description"})
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}


def rate_seconds(expression: str) -> float:
    """`rate(5 minutes)` -> 300.0; AWS's grammar: a positive whole number, singular only for 1."""
    match = _RATE.fullmatch(expression.strip())
    if match is None:
        raise UnsupportedMappingProperty(f"only rate(...) schedules are supported locally, got {expression!r}")
    value, unit = int(match.group(1)), match.group(2)
    if value < 1 or (value == 1) != (not unit.endswith("s")):
        raise UnsupportedMappingProperty(f"invalid rate expression {expression!r}")
    return float(value * _UNIT_SECONDS[unit.removesuffix("s")])


def scheduled_event(rule_name: str) -> dict[str, Any]:
    """What AWS sends on a scheduled invocation."""
    rule_arn = f"arn:aws:events:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:rule/{rule_name}"
    return event_envelope("Scheduled Event", "aws.events", rule_arn, {})


class ScheduledInvoker(BackgroundLoop):
    def __init__(self, rule_name: str, invoke: Invoke, period_seconds: float) -> None:
        super().__init__(f"schedule-{rule_name}", idle_interval=period_seconds)
        self._rule_name = rule_name
        self._invoke = invoke
        self._due = False  # the first period passes before the first run

    @classmethod
    def from_template_event(
        cls, rule_name: str, invoke: Invoke, properties: Mapping[str, Any], time_scale: float
    ) -> ScheduledInvoker | None:
        """None for a disabled schedule."""
        reject_unknown_properties(properties, SUPPORTED_PROPERTIES, "Schedule")
        if not boolean_property(properties, "Enabled", default=True):
            return None
        return cls(rule_name, invoke, rate_seconds(str(properties.get("Schedule", ""))) * time_scale)

    def poll_once(self) -> bool:
        if self._due:
            self._invoke(scheduled_event(self._rule_name))
        self._due = True
        return False
