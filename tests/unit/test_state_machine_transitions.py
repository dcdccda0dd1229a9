"""What a job's way to success costs on Standard, read off each definition: the states it
enters (each one a billed transition) and its Lambda tasks (each one an invocation).

A small walk of the happy path: Task states answer what the task functions answer, Choice
states follow the ASL rules the definitions use, a Map runs its items one after another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import REPO
from tests.unit.test_state_machine_retries import definition

Answer = Callable[[str, dict[str, Any]], Any]


def read(state: dict[str, Any], path: str) -> Any:
    value: Any = state
    for key in path.removeprefix("$.").split("."):
        value = value[key]
    return value


def matches(rule: dict[str, Any], state: dict[str, Any]) -> bool:
    """One Choice rule, of the comparisons the definitions use."""
    if "IsPresent" in rule:
        try:
            read(state, rule["Variable"])
        except KeyError:
            return rule["IsPresent"] is False
        return rule["IsPresent"] is True
    return bool(read(state, rule["Variable"]) == rule.get("BooleanEquals", rule.get("StringEquals")))


def walk(states: dict[str, Any], start: str, state: dict[str, Any], answer: Answer) -> list[str]:
    """The names of the states entered, in order, from `start` to the end."""
    entered: list[str] = []
    name: str | None = start
    while name is not None:
        spec = states[name]
        entered.append(name)
        kind = spec["Type"]
        if kind in {"Succeed", "Fail"}:
            break
        if kind == "Task":
            result = answer(name, state)
            result_path = spec.get("ResultPath", "$")
            if result_path == "$":
                state = result
            elif result_path is not None:
                state = {**state, result_path.removeprefix("$."): result}
        elif kind == "Map":
            inner = spec["ItemProcessor"]
            for _item in read(state, spec["ItemsPath"]):
                entered += walk(inner["States"], inner["StartAt"], state, answer)
        if kind == "Choice":
            name = next((rule["Next"] for rule in spec["Choices"] if matches(rule, state)), spec["Default"])
        else:
            name = None if spec.get("End") else spec["Next"]
    return entered


def lambda_tasks(states: dict[str, Any], entered: list[str]) -> int:
    every = dict(states)
    for spec in states.values():
        if "ItemProcessor" in spec:
            every.update(spec["ItemProcessor"]["States"])
    return sum(1 for name in entered if every[name]["Type"] == "Task")


def happy_path(machine: str, execution_input: dict[str, Any], answer: Answer) -> list[str]:
    loaded = definition(REPO / "statemachines" / f"{machine}.asl.json")
    return walk(loaded["States"], loaded["StartAt"], execution_input, answer)


def demo_answer(steps: int) -> Answer:
    def answer(_name: str, state: dict[str, Any]) -> dict[str, Any]:
        index = state.get("stepIndex", 0) + 1
        return {"jobId": "job_1", "input": state["input"], "stepIndex": index, "done": index >= steps}

    return answer


@pytest.mark.parametrize("steps", [1, 3, 20])
def test_a_demo_job_enters_three_states_a_step_and_invokes_one_task_a_step(steps: int) -> None:
    entered = happy_path("demo", {"jobId": "job_1", "input": {"steps": steps, "stepSeconds": 1}}, demo_answer(steps))
    # RunStep, MoreSteps and a pause per step, but no pause after the last: Done instead.
    assert entered == ["RunStep", "MoreSteps", "PauseBetweenSteps"] * (steps - 1) + ["RunStep", "MoreSteps", "Done"]
    assert len(entered) == 3 * steps  # the default 3 steps: 9 (11 before the cuts)
    demo = definition(REPO / "statemachines" / "demo.asl.json")
    assert lambda_tasks(demo["States"], entered) == steps  # 5 before the cuts


def test_an_order_enters_its_four_work_states_after_the_recovery_choice() -> None:
    # Orders run on Express, which bills the run, not its states (8 Standard transitions before the cuts).
    entered = happy_path("order-fulfillment", {"jobId": "job_1", "input": {}}, lambda _name, _state: {})
    assert entered == ["OrderOrRecovery", "ReserveInventory", "ChargePayment", "CreateShipment", "ConfirmOrder"]


def test_a_recovery_run_enters_straight_at_the_compensations() -> None:
    recovery = {"jobId": "job_1", "input": {}, "recovery": {"Error": "execution-timed-out", "Cause": "cut off"}}
    entered = happy_path("order-fulfillment", recovery, lambda name, _state: {"outcome": "failed"})
    assert entered == [
        "OrderOrRecovery",
        "CancelShipment",
        "RefundPayment",
        "ReleaseStock",
        "Conclude",
        "CancelledOrFailed",
        "MarkRolledBackFailed",
        "Failed",
    ]


def bulk_import_answer(chunks: int) -> Answer:
    def answer(name: str, _state: dict[str, Any]) -> Any:
        return {"chunks": [{"index": i} for i in range(chunks)], "file": {}} if name == "PlanChunks" else {}

    return answer


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("best-effort", ["PlanChunks", "ChooseMode", "LoadChunks", "LoadChunk", "LoadChunk", "Finish"]),
        (
            "all-or-nothing",
            [
                *["PlanChunks", "ChooseMode", "ValidateChunks", "ValidateChunk", "ValidateChunk", "CheckValidation"],
                *["LoadChunks", "LoadChunk", "LoadChunk", "Finish"],
            ],
        ),
    ],
)
def test_a_bulk_import_of_two_chunks_enters_one_state_per_chunk_and_pass(mode: str, expected: list[str]) -> None:
    entered = happy_path("bulk-import", {"jobId": "job_1", "input": {"mode": mode}}, bulk_import_answer(2))
    assert entered == expected  # two more before the cuts: MarkRunning, MarkSucceeded


def test_a_background_check_enters_two_states_per_vendor_and_its_summary() -> None:
    vendors = ["identity", "criminal", "employment", "education"]
    entered = happy_path("background-check", {"jobId": "job_1", "input": {"checks": vendors}}, lambda _n, _s: {})
    # MarkRunning stays: each vendor's wait for its answer starts with its task, so the
    # job's start is kept out of the four tasks racing to ask the vendors.
    assert entered == ["MarkRunning", "CheckWithVendors", *["StartVendorCheck", "RecordFinding"] * 4, "Summarize"]
    # 12 before: MarkSucceeded is gone (Summarize succeeds the job)
