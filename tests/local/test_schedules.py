"""Schedule events in the local stack: rate(...) expressions, scaled periods, the envelope."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from jobgate_cli.local.event_sources import UnsupportedMappingProperty
from jobgate_cli.local.schedules import ScheduledInvoker, rate_seconds


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(2 days)", 172_800)],
)
def test_rate_expressions_give_their_period(expression: str, seconds: float) -> None:
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize(
    "expression", ["rate(1 minutes)", "rate(2 minute)", "rate(0 minutes)", "rate(minute)", "cron(0 * * * ? *)", ""]
)
def test_other_expressions_are_refused_loudly(expression: str) -> None:
    with pytest.raises(UnsupportedMappingProperty):
        rate_seconds(expression)


def test_a_disabled_schedule_runs_nothing() -> None:
    properties = {"Schedule": "rate(1 minute)", "Enabled": False}
    assert ScheduledInvoker.from_template_event("Fn.Every", lambda event: None, properties, 1.0) is None


def test_unknown_properties_are_refused() -> None:
    with pytest.raises(UnsupportedMappingProperty):
        ScheduledInvoker.from_template_event(
            "Fn.Every", lambda event: None, {"Schedule": "rate(1 minute)", "Input": "{}"}, 1.0
        )


def test_the_function_is_invoked_each_scaled_period_with_a_scheduled_event() -> None:
    received: list[dict[str, Any]] = []
    two_runs = threading.Event()

    def invoke(event: dict[str, Any]) -> None:
        received.append(event)
        if len(received) == 2:
            two_runs.set()

    # rate(1 minute) at a time scale of 1/1200 is a period of 50 ms.
    schedule = ScheduledInvoker.from_template_event("Fn.Every", invoke, {"Schedule": "rate(1 minute)"}, 1 / 1200)
    assert schedule is not None
    schedule.start()
    try:
        assert two_runs.wait(timeout=30)
    finally:
        schedule.stop()
    assert received[0]["detail-type"] == "Scheduled Event"
    assert received[0]["source"] == "aws.events"
    assert received[0]["resources"][0].endswith(":rule/Fn.Every")
    assert received[0]["id"] != received[1]["id"]
