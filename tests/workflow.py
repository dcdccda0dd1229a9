"""Run a job's tasks the way statemachines/demo.asl.json calls them, one call at a time.

These tests check the status machine and the tasks; the local stack's end-to-end tests
run the real state machine definitions.
"""

from __future__ import annotations

from typing import Any

import demo_step
import job_lifecycle
from tests.conftest import LambdaContext


def lifecycle(action: str, job_id: str, **extra: Any) -> dict[str, Any]:
    outcome: dict[str, Any] = job_lifecycle.handler(
        {"action": action, "jobId": job_id, **extra},
        LambdaContext(function_name="jobgate-job-lifecycle"),  # type: ignore[arg-type]
    )
    return outcome


def run_demo_step(job_id: str, job_input: dict[str, Any], index: int) -> dict[str, Any]:
    """One RunStep, as the state machine hands it the state."""
    output: dict[str, Any] = demo_step.handler(
        {"jobId": job_id, "input": job_input, "stepIndex": index},
        LambdaContext(function_name="jobgate-demo-step"),  # type: ignore[arg-type]
    )
    return output


def demo_steps(job_id: str, job_input: dict[str, Any], first_index: int = 0) -> dict[str, Any]:
    """RunStep until done, as the Choice loop does; returns the last step's output."""
    state: dict[str, Any] = {"stepIndex": first_index}
    while True:
        state = run_demo_step(job_id, job_input, state["stepIndex"])
        if state["done"]:
            return state


def run_to_success(job_id: str, job_input: dict[str, Any]) -> dict[str, Any]:
    """The demo's happy path: its first step starts the job, its last one succeeds it."""
    return demo_steps(job_id, job_input)
