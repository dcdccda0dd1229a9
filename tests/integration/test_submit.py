"""POST /jobs: 202 + Location + Retry-After, validation, idempotency, start failures."""

from __future__ import annotations

import boto3
import pytest

from jobgate.tenants import TenantCredentials
from jobgate_cli.sam_template import parameter_defaults
from tests.api import STANDARD_DEMO, ApiClient
from tests.conftest import STATE_MACHINE_PREFIX, TEMPLATE


def executions_of(job_type: str) -> list[str]:
    arn = STATE_MACHINE_PREFIX + job_type
    listed = boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    return [e["name"] for e in listed]


def test_submit_answers_202_with_location_and_retry_after(tenant: TenantCredentials) -> None:
    response = ApiClient(tenant.api_key).submit({"steps": 2})
    job = response.json
    assert response.status == 202
    assert response.header("Location") == f"/jobs/{job['id']}"
    assert int(response.header("Retry-After") or 0) >= 1
    assert job["id"].startswith("job_")
    assert len(job["id"]) == 30
    assert job["status"] == "queued"
    assert job["type"] == "demo"
    assert [s["name"] for s in job["progress"]["steps"]] == ["step-1", "step-2"]
    assert job["links"] == {
        "self": f"/jobs/{job['id']}",
        "events": f"/jobs/{job['id']}/events",
        "result": None,
        "cancel": f"/jobs/{job['id']}",
    }
    assert job["createdAt"].endswith("Z")


def test_submit_starts_one_execution_named_after_the_job(tenant: TenantCredentials) -> None:
    job = ApiClient(tenant.api_key).submit().json
    assert executions_of("demo-express") == [job["id"]]
    assert executions_of("demo") == []
    long_job = ApiClient(tenant.api_key).submit(STANDARD_DEMO).json
    assert executions_of("demo") == [long_job["id"]]


def test_an_unknown_type_is_422_naming_the_known_ones(tenant: TenantCredentials) -> None:
    response = ApiClient(tenant.api_key).request("POST", "/jobs", body={"type": "nope", "input": {}})
    assert response.status == 422
    assert response.header("Content-Type") == "application/problem+json"
    assert response.json["errors"] == [{"pointer": "#/type", "detail": "must be one of: demo"}]
    assert executions_of("demo") == []


def test_invalid_input_for_the_type_is_422_with_field_errors(tenant: TenantCredentials) -> None:
    response = ApiClient(tenant.api_key).submit({"steps": 0, "colour": "red"})
    assert response.status == 422
    pointers = sorted(e["pointer"] for e in response.json["errors"])
    assert pointers == ["#/input/colour", "#/input/steps"]


def test_unknown_top_level_fields_are_422(tenant: TenantCredentials) -> None:
    response = ApiClient(tenant.api_key).request("POST", "/jobs", body={"type": "demo", "priority": "high"})
    assert response.status == 422
    assert {"pointer": "#/priority", "detail": "Extra inputs are not permitted"} in response.json["errors"]


def test_a_missing_type_is_422(tenant: TenantCredentials) -> None:
    response = ApiClient(tenant.api_key).request("POST", "/jobs", body={"input": {}})
    assert response.status == 422
    assert response.json["errors"][0]["pointer"] == "#/type"


TEMPLATE_DEFAULTS = parameter_defaults(TEMPLATE)


@pytest.mark.parametrize(
    ("retention", "status"),
    [
        ("P1D", 202),
        (TEMPLATE_DEFAULTS["JobRetentionMin"], 202),
        (TEMPLATE_DEFAULTS["JobRetentionMax"], 202),
        ("PT5M", 422),
        ("P1000D", 422),
        ("one week", 422),
    ],
)
def test_retention_is_checked_against_the_template_bounds(
    tenant: TenantCredentials, retention: str, status: int
) -> None:
    assert ApiClient(tenant.api_key).submit(retention=retention).status == status


@pytest.mark.parametrize(
    "callback",
    [
        {"url": "http://hooks.example.com/x"},
        {"url": "https://user:pw@hooks.example.com/x"},
        {"url": "https://hooks.example.com:25/x"},
        {"url": "https://hooks.example.com/x", "events": ["job.exploded"]},
        {"url": "https://169.254.169.254/latest/meta-data/"},
        {"url": "https://[::ffff:169.254.169.254]/"},
        {"url": "https://2130706433/"},
        {"url": "https://0x7f.1/"},
        {"url": "https://hooks.internal.test/x"},  # a name that resolves to 10.0.0.5
        {"url": "https://does-not-resolve.invalid/x"},
    ],
)
def test_unacceptable_callbacks_are_422(tenant: TenantCredentials, callback: dict[str, object]) -> None:
    response = ApiClient(tenant.api_key).submit(callback=callback)
    assert response.status == 422
    assert response.json["errors"][0]["pointer"].startswith("#/callback")


def test_a_callback_is_kept_on_the_job(tenant: TenantCredentials) -> None:
    callback = {"url": "https://hooks.example.com/jobgate", "events": ["job.succeeded"]}
    assert ApiClient(tenant.api_key).submit(callback=callback).json["callback"] == callback


def test_bodies_over_256_kib_are_413(tenant: TenantCredentials) -> None:
    response = ApiClient(tenant.api_key).submit({"padding": "x" * (256 * 1024)})
    assert response.status == 413
    assert response.json["type"] == "urn:jobgate:problem:payload-too-large"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/plain", '{"type": "demo"}'), ("application/json", "{not json"), ("application/xml", "<job/>")],
)
def test_non_json_bodies_are_415(tenant: TenantCredentials, content_type: str, body: str) -> None:
    response = ApiClient(tenant.api_key).request("POST", "/jobs", raw_body=body, headers={"content-type": content_type})
    assert response.status == 415
    assert response.header("Content-Type") == "application/problem+json"


class TestIdempotency:
    def test_a_repeat_returns_the_same_job_and_starts_nothing_twice(self, tenant: TenantCredentials) -> None:
        client = ApiClient(tenant.api_key, {"Idempotency-Key": "order-4711"})
        first = client.submit({"steps": 2})
        second = client.submit({"steps": 2})
        assert second.status == 202
        assert second.json["id"] == first.json["id"]
        assert second.header("Location") == first.header("Location")
        assert second.header("Idempotent-Replayed") == "true"
        # The job is still queued (no task runs here): Express has no idempotent start, so
        # the replay leaves a lost start to the sweeper instead of starting a twin.
        assert executions_of("demo-express") == [first.json["id"]]

    def test_the_same_key_with_another_body_is_409_and_no_second_job(self, tenant: TenantCredentials) -> None:
        client = ApiClient(tenant.api_key, {"Idempotency-Key": "order-4711"})
        first = client.submit({"steps": 2})
        conflict = client.submit({"steps": 3})
        assert conflict.status == 409
        assert conflict.json["type"] == "urn:jobgate:problem:idempotency-key-reused"
        assert [j["id"] for j in client.get("/jobs").json["items"]] == [first.json["id"]]

    def test_keys_are_scoped_per_tenant(self, tenant: TenantCredentials, other_tenant: TenantCredentials) -> None:
        mine = ApiClient(tenant.api_key, {"Idempotency-Key": "k1"}).submit()
        theirs = ApiClient(other_tenant.api_key, {"Idempotency-Key": "k1"}).submit()
        assert theirs.status == 202
        assert theirs.json["id"] != mine.json["id"]

    def test_a_malformed_key_is_400(self, tenant: TenantCredentials) -> None:
        response = ApiClient(tenant.api_key, {"Idempotency-Key": "x" * 300}).submit()
        assert response.status == 400


def test_a_job_whose_workflow_cannot_start_ends_failed_not_stranded(tenant: TenantCredentials) -> None:
    # Given the demo state machine is gone (StartExecution will fail for real)
    client = boto3.client("stepfunctions")
    client.delete_state_machine(stateMachineArn=STATE_MACHINE_PREFIX + "demo-express")
    # When a job is submitted
    response = ApiClient(tenant.api_key).submit()
    # Then the client learns at once that it failed, and why
    assert response.status == 202
    job = response.json
    assert job["status"] == "failed"
    assert job["error"]["type"] == "start-failed"
    assert job["expiresAt"] is not None
