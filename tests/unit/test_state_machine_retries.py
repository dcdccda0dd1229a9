"""Every Lambda task of every job state machine rides out a burst of throttling.

A task that gives up on Lambda.TooManyRequestsException fails the job (or, in MarkFailed and
the compensation states, leaves it unfinished) for a condition that passes on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, TEMPLATE

THROTTLE = "Lambda.TooManyRequestsException"
# The expected time a task keeps retrying throttles, with the template's default first interval.
MIN_EXPECTED_RETRY_WINDOW_SECONDS = 180
DEFINITIONS = sorted((REPO / "statemachines").glob("*.asl.json"))


def substitutions(path: Path) -> dict[str, str]:
    """What the template substitutes in the definition: a parameter's default, or a state
    machine's own DefinitionSubstitutions (the first machine of this file, for the others')."""
    values = {name: str(p["Default"]) for name, p in TEMPLATE["Parameters"].items() if "Default" in p}
    machines = [
        resource["Properties"]
        for resource in TEMPLATE["Resources"].values()
        if resource["Type"] == "AWS::Serverless::StateMachine"
        and resource["Properties"].get("DefinitionUri") == f"statemachines/{path.name}"
    ]
    for name, value in machines[0].get("DefinitionSubstitutions", {}).items():
        if not isinstance(value, dict):
            values.setdefault(name, str(value))
        elif "Ref" in value:
            values.setdefault(name, values[value["Ref"]])
    return values


def definition(path: Path) -> dict[str, Any]:
    """The definition with each unquoted ${Name} replaced as the template substitutes it."""
    values = substitutions(path)
    text = re.sub(r'(?<!")\$\{(\w+)\}', lambda m: values[m.group(1)], path.read_text())
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def lambda_tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        resource = state.get("Resource", "")
        if state["Type"] == "Task" and ("FunctionArn" in resource or ":lambda:invoke" in resource):
            yield name, state
        for branch in state.get("Branches", []):
            yield from lambda_tasks(branch["States"])
        for nested in ("Iterator", "ItemProcessor"):
            if nested in state:
                yield from lambda_tasks(state[nested]["States"])


def expected_window_seconds(retrier: dict[str, Any]) -> float:
    """Sum of the expected waits: each interval capped by MaxDelaySeconds, halved by full jitter."""
    interval, total = float(retrier["IntervalSeconds"]), 0.0
    for _ in range(retrier["MaxAttempts"]):
        wait = min(interval, retrier.get("MaxDelaySeconds", float("inf")))
        total += wait / 2 if retrier.get("JitterStrategy") == "FULL" else wait
        interval *= retrier.get("BackoffRate", 2.0)
    return total


TASKS = [(path.name, name, state) for path in DEFINITIONS for name, state in lambda_tasks(definition(path)["States"])]


@pytest.mark.parametrize(("machine", "task", "state"), TASKS, ids=[f"{m}:{t}" for m, t, _ in TASKS])
def test_each_lambda_task_retries_throttles_with_jitter_for_minutes(machine: str, task: str, state: Any) -> None:
    retriers = [r for r in state.get("Retry", []) if THROTTLE in r["ErrorEquals"]]
    assert retriers, f"{machine} {task}: no Retry on {THROTTLE}"
    retrier = retriers[0]
    # Full jitter spreads the retries of executions throttled together, instead of retrying in step.
    assert retrier.get("JitterStrategy") == "FULL"
    assert expected_window_seconds(retrier) >= MIN_EXPECTED_RETRY_WINDOW_SECONDS


def test_every_definition_has_lambda_tasks() -> None:
    assert {machine for machine, _, _ in TASKS} == {path.name for path in DEFINITIONS}
