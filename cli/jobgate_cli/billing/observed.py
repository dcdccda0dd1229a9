"""Billable units read from what the local stack observed: invocations and execution histories.

`LambdaBilling` is an invocation listener of the local runtime (one request and the
GB-seconds of each invocation, at the function's configured memory). `state_transitions`
counts a Standard execution's billed transitions from its history, as GetExecutionHistory
returns it, so a bench can bill each job's execution after it ended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from jobgate_cli.billing.meter import Meter
from jobgate_cli.billing.prices import Unit
from jobgate_cli.billing.units import lambda_gb_seconds

if TYPE_CHECKING:
    from jobgate_cli.local.runtime import InvocationRecord

# A retry of a task is a new attempt of the same state, and Step Functions bills it as a
# transition of its own: each scheduling of a task after the first within one state entry.
_SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})


class LambdaBilling:
    """Counts each invocation: one Lambda request and memory x duration (rounded up to 1 ms)."""

    def __init__(self, meter: Meter, memory_mb_by_function: Mapping[str, int]) -> None:
        self._meter = meter
        self._memory = dict(memory_mb_by_function)

    def __call__(self, record: InvocationRecord) -> None:
        name = record.function_name
        self._meter.add(Unit.LAMBDA_REQUEST, 1, name)
        self._meter.add(Unit.LAMBDA_GB_SECOND, lambda_gb_seconds(self._memory[name], record.duration_ms), name)


def state_transitions(events: Iterable[Mapping[str, Any]]) -> int:
    """Billed transitions of a Standard execution: every state entered, plus every retry."""
    transitions = 0
    scheduled_in_state = 0
    for event in events:
        kind = str(event["type"])
        if kind.endswith("StateEntered"):
            transitions += 1
            scheduled_in_state = 0
        elif kind in _SCHEDULED:
            scheduled_in_state += 1
            if scheduled_in_state > 1:
                transitions += 1
    return transitions
