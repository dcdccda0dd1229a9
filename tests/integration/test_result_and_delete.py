"""GET /jobs/{id}/result (inline, 303, 409) and DELETE /jobs/{id} (cancel or purge)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import requests

from jobgate.store.executions import Executions
from jobgate.store.results import PreparedResult, ResultStore
from jobgate.tenants import TenantCredentials
from tests.api import STANDARD_DEMO, ApiClient
from tests.conftest import BUCKET, STATE_MACHINE_PREFIX
from tests.integration.test_submit import executions_of
from tests.workflow import lifecycle, run_demo_step, run_to_success

QUICK = {"steps": 1, "stepSeconds": 0}


@pytest.fixture
def client(tenant: TenantCredentials) -> ApiClient:
    return ApiClient(tenant.api_key)


def result_objects() -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="results/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_a_result_before_success_is_409_naming_the_status(client: ApiClient) -> None:
    job_id = client.submit().json["id"]
    lifecycle("start", job_id)
    response = client.get(f"/jobs/{job_id}/result")
    assert response.status == 409
    assert response.json["jobStatus"] == "running"
    assert response.header("Content-Type") == "application/problem+json"


def test_a_small_result_is_served_inline(client: ApiClient) -> None:
    job = client.submit(QUICK).json
    run_to_success(job["id"], QUICK)
    response = client.get(f"/jobs/{job['id']}/result")
    assert response.status == 200
    assert response.json["steps"] == 1
    assert len(response.json["digest"]) == 64
    assert client.get(f"/jobs/{job['id']}").json["links"]["result"] == f"/jobs/{job['id']}/result"


def test_a_large_result_is_a_303_to_a_working_short_lived_url(client: ApiClient) -> None:
    job_input = {**QUICK, "resultBytes": 100_000}
    job = client.submit(job_input).json
    run_to_success(job["id"], job_input)
    response = client.get(f"/jobs/{job['id']}/result")
    assert response.status == 303
    location = response.header("Location") or ""
    assert "X-Amz-Expires=300" in location
    downloaded = requests.get(location, timeout=5)
    assert downloaded.status_code == 200
    assert len(downloaded.json()["padding"]) == 100_000


def test_delete_cancels_a_running_job_and_stops_its_execution(client: ApiClient) -> None:
    job_id = client.submit(STANDARD_DEMO).json["id"]
    lifecycle("start", job_id)
    response = client.delete(f"/jobs/{job_id}")
    assert response.status == 202
    assert response.json["status"] == "cancelled"
    assert response.json["links"]["cancel"] is None
    execution = boto3.client("stepfunctions").describe_execution(
        executionArn=STATE_MACHINE_PREFIX.replace(":stateMachine:", ":execution:") + f"demo:{job_id}"
    )
    assert execution["status"] == "ABORTED"
    types = [e["type"] for e in client.get(f"/jobs/{job_id}/events").json["items"]]
    assert types[-2:] == ["job.cancelling", "job.cancelled"]


def test_a_cancelled_jobs_late_task_results_change_nothing(client: ApiClient) -> None:
    job_id = client.submit(STANDARD_DEMO).json["id"]
    lifecycle("start", job_id)
    client.delete(f"/jobs/{job_id}")
    late = lifecycle("succeed", job_id, result={"too": "late"})
    assert late == {"jobId": job_id, "accepted": False, "status": None}
    assert client.get(f"/jobs/{job_id}").json["status"] == "cancelled"
    assert result_objects() == []


def test_delete_of_a_finished_job_purges_it_and_its_result(client: ApiClient) -> None:
    job_input = {**QUICK, "resultBytes": 100_000}
    job_id = client.submit(job_input).json["id"]
    run_to_success(job_id, job_input)
    assert len(result_objects()) == 1
    response = client.delete(f"/jobs/{job_id}")
    assert response.status == 204
    assert response.text == ""
    assert client.get(f"/jobs/{job_id}").status == 404
    assert client.get(f"/jobs/{job_id}/events").status == 404
    assert result_objects() == []
    assert client.delete(f"/jobs/{job_id}").status == 404


def test_another_tenant_cannot_cancel_or_purge(client: ApiClient, other_tenant: TenantCredentials) -> None:
    job_id = client.submit().json["id"]
    assert ApiClient(other_tenant.api_key).delete(f"/jobs/{job_id}").status == 404
    assert client.get(f"/jobs/{job_id}").json["status"] == "queued"


def test_an_express_demo_job_cancels_at_its_next_step(client: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a short demo job, which runs as Express (which cannot be stopped), under way
    job_input = {"steps": 3, "stepSeconds": 1}
    job_id = client.submit(job_input).json["id"]
    assert executions_of("demo-express") == [job_id]
    run_demo_step(job_id, job_input, index=0)

    def stop_refused(self: Executions, arn: str, cause: str) -> None:
        raise AssertionError(f"StopExecution called on an Express execution: {arn}")

    monkeypatch.setattr(Executions, "stop", stop_refused)
    # When its owner cancels it
    response = client.delete(f"/jobs/{job_id}")
    # Then it is cancelling until its next step sees that, which ends it cancelled
    assert response.status == 202
    assert response.json["status"] == "cancelling"
    with pytest.raises(Exception, match="cancelling") as stopped:
        run_demo_step(job_id, job_input, index=1)
    assert type(stopped.value).__name__ == "JobCancelled"
    lifecycle("cancelled", job_id)  # what the state machine's Catch on JobCancelled calls
    assert client.get(f"/jobs/{job_id}").json["status"] == "cancelled"
    events = [e["type"] for e in client.get(f"/jobs/{job_id}/events").json["items"]]
    assert [t for t in events if t in {"job.succeeded", "job.failed", "job.cancelled"}] == ["job.cancelled"]


def test_of_two_racing_completes_the_winners_result_stays_and_the_losers_object_goes(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = client.submit(QUICK).json["id"]
    lifecycle("start", job_id)
    # Both completes have read the job running and uploaded their result before either writes.
    both_uploaded = threading.Barrier(2, timeout=10)
    prepare = ResultStore.prepare

    def prepare_then_wait(self: ResultStore, *args: Any, **kwargs: Any) -> PreparedResult:
        prepared = prepare(self, *args, **kwargs)
        both_uploaded.wait()
        return prepared

    monkeypatch.setattr(ResultStore, "prepare", prepare_then_wait)
    results = {name: {"by": name, "padding": name * 100_000} for name in ("a", "b")}

    def complete(result: dict[str, str]) -> bool:
        accepted: bool = lifecycle("succeed", job_id, result=result)["accepted"]
        return accepted

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = dict(zip(results, pool.map(complete, results.values()), strict=True))
    assert sorted(outcomes.values()) == [False, True]
    winner = next(name for name, accepted in outcomes.items() if accepted)

    response = client.get(f"/jobs/{job_id}/result")
    assert response.status == 303
    assert requests.get(response.header("Location") or "", timeout=5).json()["by"] == winner
    assert len(result_objects()) == 1  # the loser removed its own object, and only that
