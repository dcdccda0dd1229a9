"""The job sweeper (functions/job_sweeper): no job stays unfinished after a lost start or event."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

import job_sweeper
from jobgate import aws
from jobgate.store.executions import Executions
from jobgate.tenants import TenantCredentials
from tests.api import STANDARD_DEMO, ApiClient
from tests.conftest import STATE_MACHINE_PREFIX, LambdaContext
from tests.faults import time_out
from tests.integration.test_submit import executions_of
from tests.workflow import lifecycle, run_demo_step

# What a sweep that found nothing to do reports.
NOTHING_DONE = {"started": [], "failed": [], "reconciled": [], "recovered": [], "errors": [], "unfinished": False}


class ShortOfTime(LambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def sweep(context: LambdaContext | None = None) -> dict[str, Any]:
    report: dict[str, Any] = job_sweeper.handler(
        {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}},
        context or LambdaContext(function_name="jobgate-job-sweeper"),  # type: ignore[arg-type]
    )
    return report


@pytest.fixture(autouse=True)
def bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every unfinished job counts as idle at once; the start bound is far away.
    monkeypatch.setenv("SWEEP_IDLE_SECONDS", "0")
    monkeypatch.setenv("QUEUED_JOB_START_TIMEOUT_SECONDS", "600")
    monkeypatch.setenv("EXPRESS_JOB_TIMEOUT_SECONDS", "300")


@pytest.fixture
def client(tenant: TenantCredentials) -> ApiClient:
    return ApiClient(tenant.api_key)


def submit_with_lost_start(client: ApiClient, job_input: dict[str, Any] = STANDARD_DEMO) -> str:
    """A submit whose StartExecution never answers: the job is written and stays queued."""
    with time_out(aws.stepfunctions(), "StartExecution"):
        job: dict[str, Any] = client.submit(job_input).json
    assert job["status"] == "queued"
    assert job["id"] not in executions_of("demo") + executions_of("demo-express")
    return str(job["id"])


def event_types(client: ApiClient, job_id: str) -> list[str]:
    return [event["type"] for event in client.get(f"/jobs/{job_id}/events").json["items"]]


def test_a_queued_job_without_an_execution_is_started(client: ApiClient) -> None:
    job_id = submit_with_lost_start(client)
    assert sweep()["started"] == [job_id]
    assert executions_of("demo") == [job_id]
    # A second sweep finds the execution and leaves the job to it.
    assert sweep() == NOTHING_DONE
    assert executions_of("demo") == [job_id]


def test_a_queued_job_past_its_start_bound_is_failed_once(client: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = submit_with_lost_start(client)
    monkeypatch.setenv("QUEUED_JOB_START_TIMEOUT_SECONDS", "0")
    assert sweep()["failed"] == [job_id]
    job = client.get(f"/jobs/{job_id}").json
    assert job["status"] == "failed"
    assert job["error"]["type"] == "start-failed"
    assert executions_of("demo") == []
    assert sweep()["failed"] == []
    assert event_types(client, job_id).count("job.failed") == 1


def test_a_running_job_whose_execution_was_stopped_behind_our_back_is_failed(client: ApiClient) -> None:
    job_id = client.submit(STANDARD_DEMO).json["id"]
    lifecycle("start", job_id)
    # The execution is stopped outside jobgate, and its EventBridge event is lost.
    boto3.client("stepfunctions").stop_execution(
        executionArn=STATE_MACHINE_PREFIX.replace(":stateMachine:", ":execution:") + f"demo:{job_id}"
    )
    assert sweep()["reconciled"] == [job_id]
    job = client.get(f"/jobs/{job_id}").json
    assert job["status"] == "failed"
    assert job["error"]["type"] == "execution-aborted"
    assert sweep()["reconciled"] == []


def test_a_cancelling_job_whose_execution_ended_is_cancelled(client: ApiClient) -> None:
    job_id = client.submit(STANDARD_DEMO).json["id"]
    lifecycle("start", job_id)
    stopped = STATE_MACHINE_PREFIX.replace(":stateMachine:", ":execution:") + f"demo:{job_id}"
    boto3.client("stepfunctions").stop_execution(executionArn=stopped)
    # The DELETE's own confirmation is lost (its second write times out every time).
    with time_out(aws.stepfunctions(), "StopExecution"):
        assert client.delete(f"/jobs/{job_id}").status == 503
    assert client.get(f"/jobs/{job_id}").json["status"] == "cancelling"
    assert sweep()["reconciled"] == [job_id]
    assert client.get(f"/jobs/{job_id}").json["status"] == "cancelled"


def test_jobs_whose_executions_run_or_that_just_changed_are_left_alone(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = client.submit().json["id"]
    lifecycle("start", running)
    assert sweep() == NOTHING_DONE
    monkeypatch.setenv("SWEEP_IDLE_SECONDS", "3600")
    submit_with_lost_start(client)
    assert sweep()["started"] == []
    assert client.get(f"/jobs/{running}").json["status"] == "running"


def test_a_sweep_short_of_time_stops_before_a_job_and_leaves_it_to_the_next(client: ApiClient) -> None:
    job_id = submit_with_lost_start(client)
    report = sweep(ShortOfTime(function_name="jobgate-job-sweeper"))
    assert report["unfinished"] is True
    assert report["started"] == []
    assert sweep()["started"] == [job_id]


# --- Express: no DescribeExecution, no events; bounded by the machine's TimeoutSeconds ------


@pytest.fixture
def express_unobservable(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS refuses DescribeExecution and StopExecution on Express executions: so must the sweeper's view."""

    def refused(self: Executions, arn: str, *args: Any) -> None:
        raise AssertionError(f"an Express execution cannot be described or stopped: {arn}")

    monkeypatch.setattr(Executions, "describe", refused)
    monkeypatch.setattr(Executions, "stop", refused)


@pytest.mark.usefixtures("express_unobservable")
def test_an_express_job_whose_start_was_lost_is_started_again(client: ApiClient) -> None:
    job_id = submit_with_lost_start(client, {"steps": 2, "stepSeconds": 1})
    assert sweep()["started"] == [job_id]
    assert executions_of("demo-express") == [job_id]


@pytest.mark.usefixtures("express_unobservable")
def test_an_express_job_still_running_within_its_bound_is_left_alone(client: ApiClient) -> None:
    job_id = client.submit().json["id"]
    run_demo_step(job_id, {}, index=0)
    assert sweep() == NOTHING_DONE
    assert client.get(f"/jobs/{job_id}").json["status"] == "running"


@pytest.mark.usefixtures("express_unobservable")
def test_an_express_job_past_its_bound_is_failed_once_as_timed_out(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an Express job whose execution died after its first step (no event ever comes)
    job_id = client.submit().json["id"]
    run_demo_step(job_id, {}, index=0)
    # When the sweeper runs once no Express execution can still be going (TimeoutSeconds 0 here)
    monkeypatch.setenv("EXPRESS_JOB_TIMEOUT_SECONDS", "0")
    assert sweep()["reconciled"] == [job_id]
    # Then the job is failed, saying why, once
    job = client.get(f"/jobs/{job_id}").json
    assert job["status"] == "failed"
    assert job["error"]["type"] == "execution-timed-out"
    assert "TimeoutSeconds" in job["error"]["detail"]
    assert sweep()["reconciled"] == []
    assert event_types(client, job_id).count("job.failed") == 1


@pytest.mark.usefixtures("express_unobservable")
def test_a_cancelling_express_job_whose_execution_died_is_cancelled(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = client.submit().json["id"]
    run_demo_step(job_id, {}, index=0)
    assert client.delete(f"/jobs/{job_id}").json["status"] == "cancelling"
    monkeypatch.setenv("EXPRESS_JOB_TIMEOUT_SECONDS", "0")
    assert sweep()["reconciled"] == [job_id]
    assert client.get(f"/jobs/{job_id}").json["status"] == "cancelled"
