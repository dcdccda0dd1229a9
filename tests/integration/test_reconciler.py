"""An execution that dies without updating its job is reconciled, so no job stays running."""

from __future__ import annotations

import copy

import pytest

import execution_reconciler
from jobgate import wiring
from jobgate.domain.changes import RequestCancel
from jobgate.tenants import TenantCredentials
from tests.api import ApiClient
from tests.conftest import LambdaContext, load_event
from tests.workflow import lifecycle, run_to_success


@pytest.fixture
def client(tenant: TenantCredentials) -> ApiClient:
    return ApiClient(tenant.api_key)


def execution_ended(job_id: str, status: str, cause: str | None = None) -> dict[str, object]:
    event = copy.deepcopy(load_event("execution_reconciler_timed_out.json"))
    event["detail"].update({"name": job_id, "status": status, "cause": cause})
    outcome: dict[str, object] = execution_reconciler.handler(
        event,
        LambdaContext(function_name="jobgate-execution-reconciler"),  # type: ignore[arg-type]
    )
    return outcome


def test_a_timed_out_execution_fails_its_running_job(client: ApiClient) -> None:
    job_id = client.submit({"steps": 3}).json["id"]
    lifecycle("start", job_id)
    outcome = execution_ended(job_id, "TIMED_OUT", "The execution ran past its TimeoutSeconds.")
    job = client.get(f"/jobs/{job_id}").json
    assert outcome == {"jobId": job_id, "reconciled": True, "status": "failed"}
    assert job["status"] == "failed"
    assert job["error"]["type"] == "execution-timed-out"
    assert job["links"]["cancel"] is None


@pytest.mark.parametrize("status", ["FAILED", "ABORTED", "SUCCEEDED"])
def test_any_end_that_left_the_job_running_fails_it(client: ApiClient, status: str) -> None:
    job_id = client.submit().json["id"]
    lifecycle("start", job_id)
    execution_ended(job_id, status)
    assert client.get(f"/jobs/{job_id}").json["status"] == "failed"


def test_an_aborted_execution_of_a_cancelling_job_completes_the_cancel(client: ApiClient) -> None:
    job_id = client.submit().json["id"]
    lifecycle("start", job_id)
    wiring.job_service().apply(job_id, RequestCancel())
    execution_ended(job_id, "ABORTED")
    assert client.get(f"/jobs/{job_id}").json["status"] == "cancelled"


def test_a_finished_job_is_left_alone(client: ApiClient) -> None:
    job_id = client.submit({"steps": 1, "stepSeconds": 0}).json["id"]
    run_to_success(job_id, {"steps": 1, "stepSeconds": 0})
    before = client.get(f"/jobs/{job_id}")
    outcome = execution_ended(job_id, "SUCCEEDED")
    after = client.get(f"/jobs/{job_id}")
    assert outcome["reconciled"] is False
    assert after.header("ETag") == before.header("ETag")


def test_an_unknown_execution_is_ignored(aws_backend: None) -> None:
    assert execution_ended("job_01JDQ4Z5V3F0T4J6N8KQ2M9XYZ", "FAILED")["reconciled"] is False
