"""The workflow's side: tasks move the job, and races can never corrupt it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, cast

import pytest

from jobgate import wiring
from jobgate.domain.changes import ConfirmCancel, RequestCancel, SucceedJob
from jobgate.domain.errors import IllegalTransition, JobCancelled
from jobgate.domain.models import Job
from jobgate.jobtypes.control import JobControl
from jobgate.jobtypes.demo.models import DemoStepRequest
from jobgate.jobtypes.demo.workflow import DemoSteps
from jobgate.tenants import TenantCredentials
from tests.api import ApiClient
from tests.conftest import load_event
from tests.workflow import demo_steps, lifecycle, run_demo_step


@pytest.fixture
def client(tenant: TenantCredentials) -> ApiClient:
    return ApiClient(tenant.api_key)


def test_steps_report_progress_while_running(client: ApiClient) -> None:
    job_id = client.submit({"steps": 4, "stepSeconds": 0}).json["id"]
    demo_step_output = run_demo_step(job_id, {"steps": 4, "stepSeconds": 0}, index=0)  # the first step starts the job
    job = client.get(f"/jobs/{job_id}").json
    assert demo_step_output["done"] is False
    assert job["status"] == "running"
    assert job["progress"]["percent"] == 25
    assert job["progress"]["steps"][0]["status"] == "succeeded"
    assert job["progress"]["steps"][0]["attempts"] == 1
    assert job["progress"]["eta"] is not None


def test_a_step_run_twice_is_done_once_and_the_last_step_succeeds_the_job(client: ApiClient) -> None:
    # Express runs a task (or a whole execution) at least once: a second run must change nothing.
    job_input = {"steps": 2, "stepSeconds": 0}
    job_id = client.submit(job_input).json["id"]
    run_demo_step(job_id, job_input, index=0)
    again = run_demo_step(job_id, job_input, index=0)
    assert again == {
        "jobId": job_id,
        "input": {**job_input, "failAtStep": None, "resultBytes": 0},
        "stepIndex": 1,
        "done": False,
    }
    assert run_demo_step(job_id, job_input, index=1)["done"] is True
    job = client.get(f"/jobs/{job_id}").json
    assert job["status"] == "succeeded"
    assert [s["attempts"] for s in job["progress"]["steps"]] == [1, 1]
    assert client.get(f"/jobs/{job_id}/result").json["steps"] == 2
    events = [e["type"] for e in client.get(f"/jobs/{job_id}/events").json["items"]]
    assert events.count("job.started") == 1
    assert events.count("job.succeeded") == 1
    # A run after the job succeeded (a twin execution lagging behind) ends its workflow, not the job.
    with pytest.raises(JobCancelled):
        run_demo_step(job_id, job_input, index=1)
    assert [e["type"] for e in client.get(f"/jobs/{job_id}/events").json["items"]] == events


def test_a_twin_run_that_read_the_job_before_the_step_succeeded_does_not_set_it_back_to_running(
    client: ApiClient,
) -> None:
    # Two Express runs of one job: run B reads the job, run A then does the step, and only then
    # does B come to it. B must see the step as done, not show it running again at 0 %.
    job_input = {"steps": 2, "stepSeconds": 0}
    job_id = client.submit(job_input).json["id"]
    service = wiring.job_service()

    class OvertakenByTwin:
        def __getattr__(self, name: str) -> Any:
            return getattr(service, name)

        def start_or_resume(self, job_id: str) -> Job:
            job = service.start_or_resume(job_id)
            run_demo_step(job_id, job_input, index=0)  # run A, from start to the step's success
            return job

    before = client.get(f"/jobs/{job_id}/events").json["items"]
    DemoSteps(cast("JobControl", OvertakenByTwin())).run(
        DemoStepRequest.model_validate({"jobId": job_id, "input": job_input, "stepIndex": 0})
    )
    job = client.get(f"/jobs/{job_id}").json
    assert job["progress"]["steps"][0]["status"] == "succeeded"
    assert job["progress"]["steps"][0]["attempts"] == 1
    assert job["progress"]["percent"] == 50
    after = client.get(f"/jobs/{job_id}/events").json["items"]
    assert [e["data"]["job"]["progress"]["message"] for e in after[len(before) :]] == [
        "Started.",
        "step-1: running.",
        "step-1: succeeded.",
    ]


def test_a_failing_step_fails_the_job_with_a_readable_error(client: ApiClient) -> None:
    job_input = {"steps": 3, "stepSeconds": 0, "failAtStep": 2}
    job_id = client.submit(job_input).json["id"]
    lifecycle("start", job_id)
    with pytest.raises(Exception, match="failAtStep") as raised:
        demo_steps(job_id, job_input)
    assert type(raised.value).__name__ == "DemoStepFailed"
    # The state machine's Catch hands {"Error", "Cause"} to the lifecycle task.
    fail_event = load_event("job_lifecycle_fail.json")
    lifecycle("fail", job_id, error=fail_event["error"])
    job = client.get(f"/jobs/{job_id}").json
    assert job["status"] == "failed"
    assert job["error"] == {
        "type": "DemoStepFailed",
        "title": "Step step-2 failed.",
        "detail": "step-2 failed because the job asked for it (failAtStep).",
        "step": "step-2",
    }
    assert [s["status"] for s in job["progress"]["steps"]] == ["succeeded", "failed", "pending"]
    assert job["expiresAt"] is not None


def test_a_job_cancelled_before_it_starts_never_runs(client: ApiClient) -> None:
    job_id = client.submit().json["id"]
    wiring.job_service().apply(job_id, RequestCancel())
    with pytest.raises(JobCancelled):
        lifecycle("start", job_id)


def test_a_duplicate_start_is_refused(client: ApiClient) -> None:
    job_id = client.submit().json["id"]
    lifecycle("start", job_id)
    with pytest.raises(JobCancelled):
        lifecycle("start", job_id)
    assert [e["type"] for e in client.get(f"/jobs/{job_id}/events").json["items"]] == ["job.started"]


def race(*actions: Callable[[], object]) -> list[object]:
    """Run the actions at the same moment on threads; return each one's result or exception."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[object] = [None] * len(actions)

    def run(index: int, action: Callable[[], object]) -> None:
        barrier.wait()
        try:
            outcomes[index] = action()
        except Exception as error:  # noqa: BLE001 - the race's loser is part of the outcome
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("attempt", range(5))
def test_a_cancel_racing_a_completion_ends_in_exactly_one_terminal_state(client: ApiClient, attempt: int) -> None:
    job_id = client.submit().json["id"]
    lifecycle("start", job_id)
    service = wiring.job_service()
    outcomes = race(lambda: service.apply(job_id, SucceedJob()), lambda: service.apply(job_id, RequestCancel()))
    refused = [o for o in outcomes if isinstance(o, IllegalTransition)]
    assert len(refused) == 1  # exactly one of them won
    # Whoever won, confirming the cancel afterwards cannot move a succeeded job.
    service.try_apply(job_id, ConfirmCancel())
    final = client.get(f"/jobs/{job_id}").json["status"]
    assert final in {"succeeded", "cancelled"}
    events = client.get(f"/jobs/{job_id}/events").json["items"]
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert sum(e["type"] in {"job.succeeded", "job.cancelled"} for e in events) == 1


def test_concurrent_step_updates_are_all_kept_in_one_gapless_timeline(client: ApiClient) -> None:
    job_id = client.submit({"steps": 8}).json["id"]
    lifecycle("start", job_id)
    service = wiring.job_service()
    from jobgate.domain.models import StepStatus

    outcomes = race(*[lambda i=i: service.record_step(job_id, f"step-{i + 1}", StepStatus.SUCCEEDED) for i in range(8)])
    assert not [o for o in outcomes if isinstance(o, Exception)]
    job = client.get(f"/jobs/{job_id}").json
    assert all(s["status"] == "succeeded" for s in job["progress"]["steps"])
    events = client.get(f"/jobs/{job_id}/events").json["items"]
    assert [e["sequence"] for e in events] == list(range(1, 10))


def test_a_duplicate_terminal_update_is_ignored(client: ApiClient) -> None:
    job_id = client.submit({"steps": 1, "stepSeconds": 0}).json["id"]
    lifecycle("start", job_id)
    first = lifecycle("succeed", job_id, result={"n": 1})
    again = lifecycle("succeed", job_id, result={"n": 2})
    assert first["accepted"] is True
    assert again["accepted"] is False
    assert client.get(f"/jobs/{job_id}/result").json == {"n": 1}
