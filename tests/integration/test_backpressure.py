"""docs/api.md "Backpressure": AWS throttling or timeouts answer 503 + Retry-After, nothing half-done."""

from __future__ import annotations

import pytest

from jobgate import aws
from jobgate.tenants import TenantCredentials
from tests.api import ApiClient, ApiResponse
from tests.faults import answer_error, time_out
from tests.integration.test_submit import executions_of

THROTTLING_CODES = ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]


def assert_backpressure(response: ApiResponse) -> None:
    assert response.status == 503
    assert response.header("Content-Type") == "application/problem+json"
    assert response.json["type"] == "urn:jobgate:problem:service-unavailable"
    assert int(response.header("Retry-After") or 0) >= 1


@pytest.mark.parametrize("code", THROTTLING_CODES)
def test_a_throttled_job_write_is_503_and_no_job(tenant: TenantCredentials, code: str) -> None:
    client = ApiClient(tenant.api_key)
    with answer_error(aws.dynamodb(), "PutItem", code) as answered:  # a job without an Idempotency-Key
        response = client.submit()
    assert_backpressure(response)
    assert answered[0] == 3  # botocore's attempts, then the 503
    assert client.get("/jobs").json["items"] == []
    assert executions_of("demo") == []


def test_a_job_write_that_times_out_every_time_is_503_and_no_job(tenant: TenantCredentials) -> None:
    client = ApiClient(tenant.api_key)
    with time_out(aws.dynamodb(), "PutItem"):
        response = client.submit()
    assert_backpressure(response)
    assert client.get("/jobs").json["items"] == []


def test_a_read_that_times_out_is_503(tenant: TenantCredentials) -> None:
    client = ApiClient(tenant.api_key)
    job = client.submit().json
    with time_out(aws.dynamodb(), "GetItem"):
        response = client.get(f"/jobs/{job['id']}")
    assert_backpressure(response)


def test_a_throttled_key_lookup_is_503_not_401(tenant: TenantCredentials) -> None:
    with answer_error(aws.dynamodb(), "GetItem", "ProvisionedThroughputExceededException"):
        response = ApiClient(tenant.api_key).get("/jobs")
    assert_backpressure(response)


def test_a_throttled_start_is_202_queued_and_the_job_is_kept(tenant: TenantCredentials) -> None:
    client = ApiClient(tenant.api_key)
    with answer_error(aws.stepfunctions(), "StartExecution", "ThrottlingException"):
        response = client.submit()
    # Accepted: the sweeper starts it (tests/integration/test_sweeper.py), it is not failed.
    assert response.status == 202
    assert response.json["status"] == "queued"
    assert client.get(f"/jobs/{response.json['id']}").json["status"] == "queued"
    assert executions_of("demo") == []


def test_a_throttled_cancel_changes_nothing(tenant: TenantCredentials) -> None:
    client = ApiClient(tenant.api_key)
    job = client.submit().json
    with answer_error(aws.dynamodb(), "PutItem", "ThrottlingException"):  # cancelling: not a transaction
        response = client.request("DELETE", f"/jobs/{job['id']}")
    assert_backpressure(response)
    assert client.get(f"/jobs/{job['id']}").json["status"] == "queued"
