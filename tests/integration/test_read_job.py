"""GET /jobs/{id}: ETag, If-None-Match -> 304, Retry-After, Prefer: wait=N, 404/410."""

from __future__ import annotations

import threading
import time

import boto3
import pytest

from jobgate.tenants import TenantCredentials
from tests.api import ApiClient
from tests.conftest import JOBS_TABLE
from tests.workflow import lifecycle, run_to_success


@pytest.fixture
def client(tenant: TenantCredentials) -> ApiClient:
    return ApiClient(tenant.api_key)


def test_a_job_reads_with_etag_and_retry_after(client: ApiClient) -> None:
    job = client.submit().json
    response = client.get(f"/jobs/{job['id']}")
    assert response.status == 200
    assert response.json == job
    assert response.header("ETag") == f'"{job["id"]}.1"'
    assert int(response.header("Retry-After") or 0) >= 1


def test_a_matching_if_none_match_is_304_without_body(client: ApiClient) -> None:
    job_id = client.submit().json["id"]
    etag = client.get(f"/jobs/{job_id}").header("ETag")
    assert etag is not None
    response = client.get(f"/jobs/{job_id}", headers={"If-None-Match": etag})
    assert response.status == 304
    assert response.text == ""
    assert response.header("ETag") == etag


@pytest.mark.parametrize("form", ["W/{etag}", '"other", {etag}', "*"])
def test_if_none_match_uses_weak_comparison_over_lists(client: ApiClient, form: str) -> None:
    job_id = client.submit().json["id"]
    etag = client.get(f"/jobs/{job_id}").header("ETag") or ""
    assert client.get(f"/jobs/{job_id}", headers={"If-None-Match": form.format(etag=etag)}).status == 304


def test_a_change_gives_a_new_etag_and_a_200(client: ApiClient) -> None:
    job_id = client.submit().json["id"]
    etag = client.get(f"/jobs/{job_id}").header("ETag") or ""
    lifecycle("start", job_id)
    response = client.get(f"/jobs/{job_id}", headers={"If-None-Match": etag})
    assert response.status == 200
    assert response.header("ETag") != etag
    assert response.json["status"] == "running"


def test_a_finished_job_has_no_retry_after(client: ApiClient) -> None:
    job = client.submit({"steps": 1, "stepSeconds": 0}).json
    run_to_success(job["id"], job_input={"steps": 1, "stepSeconds": 0})
    response = client.get(f"/jobs/{job['id']}")
    assert response.json["status"] == "succeeded"
    assert response.header("Retry-After") is None


def test_long_poll_returns_as_soon_as_the_job_changes(client: ApiClient) -> None:
    job_id = client.submit().json["id"]
    etag = client.get(f"/jobs/{job_id}").header("ETag") or ""
    # A task starts the job a moment after the poll begins.
    starter = threading.Timer(0.5, lifecycle, args=("start", job_id))
    starter.start()
    began = time.monotonic()
    response = client.get(f"/jobs/{job_id}", headers={"If-None-Match": etag, "Prefer": "wait=10"})
    waited = time.monotonic() - began
    starter.join()
    assert response.status == 200
    assert response.json["status"] == "running"
    assert response.header("Preference-Applied") == "wait=10"
    assert waited < 10  # it did not sit out the whole wait


def test_long_poll_without_change_answers_304_after_the_wait(client: ApiClient) -> None:
    job_id = client.submit().json["id"]
    etag = client.get(f"/jobs/{job_id}").header("ETag") or ""
    response = client.get(f"/jobs/{job_id}", headers={"If-None-Match": etag, "Prefer": "wait=1"})
    assert response.status == 304
    assert response.header("Preference-Applied") == "wait=1"


def test_long_poll_waits_at_most_twenty_seconds(client: ApiClient) -> None:
    job = client.submit({"steps": 1, "stepSeconds": 0}).json
    run_to_success(job["id"], {"steps": 1, "stepSeconds": 0})
    etag = client.get(f"/jobs/{job['id']}").header("ETag") or ""
    stale = client.get(f"/jobs/{job['id']}", headers={"If-None-Match": '"stale"', "Prefer": "wait=600"})
    assert stale.status == 200
    assert stale.header("Preference-Applied") == "wait=20"
    assert etag == stale.header("ETag")


def test_another_tenants_job_is_404_like_a_missing_one(client: ApiClient, other_tenant: TenantCredentials) -> None:
    job_id = client.submit().json["id"]
    theirs = ApiClient(other_tenant.api_key).get(f"/jobs/{job_id}")
    missing = client.get("/jobs/job_01JDQ4Z5V3F0T4J6N8KQ2M9XYZ")
    assert theirs.status == missing.status == 404
    assert theirs.json["title"] == missing.json["title"] == "Job not found"


def test_an_expired_job_is_410_until_ttl_removes_it_then_404(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOB_RETENTION_MIN", "PT1S")
    job = client.submit({"steps": 1, "stepSeconds": 0}, retention="PT1S").json
    run_to_success(job["id"], {"steps": 1, "stepSeconds": 0})
    assert client.get(f"/jobs/{job['id']}").status == 200
    time.sleep(1.1)
    for path in ("", "/events", "/result"):
        gone = client.get(f"/jobs/{job['id']}{path}")
        assert gone.status == 410, path
        assert gone.json["type"] == "urn:jobgate:problem:job-expired"
    # DynamoDB TTL then deletes the item (the local stack's sweeper does the same).
    boto3.client("dynamodb").delete_item(
        TableName=JOBS_TABLE, Key={"pk": {"S": f"JOB#{job['id']}"}, "sk": {"S": "JOB"}}
    )
    assert client.get(f"/jobs/{job['id']}").status == 404
