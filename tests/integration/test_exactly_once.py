"""A write botocore retries after it committed is still one write (store/transactions.py)."""

from __future__ import annotations

from jobgate import aws, wiring
from jobgate.tenants import TenantCredentials
from tests.api import ApiClient
from tests.faults import commit_then_time_out
from tests.integration.test_submit import executions_of


def jobs_of(tenant: TenantCredentials) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = ApiClient(tenant.api_key).request("GET", "/jobs").json["items"]
    return listed


def test_a_submit_whose_committed_write_timed_out_is_one_started_job(tenant: TenantCredentials) -> None:
    # Given the job's write (one item, not a transaction) commits but its answer never arrives,
    # so botocore sends it again
    with commit_then_time_out(aws.dynamodb(), "PutItem") as cut_off:
        response = ApiClient(tenant.api_key).submit()
    # Then the client gets its job, the only one, and it was started
    assert cut_off == [1]
    assert response.status == 202
    assert [job["id"] for job in jobs_of(tenant)] == [response.json["id"]]
    assert executions_of("demo-express") == [response.json["id"]]


def test_the_same_with_an_idempotency_key_is_one_job_and_a_repeat_replays_it(tenant: TenantCredentials) -> None:
    client = ApiClient(tenant.api_key, {"Idempotency-Key": "order-7"})
    with commit_then_time_out(aws.dynamodb(), "TransactWriteItems"):
        first = client.submit()
    repeat = client.submit()
    assert first.status == 202
    assert first.header("Idempotent-Replayed") is None
    assert repeat.header("Idempotent-Replayed") == "true"
    assert repeat.json["id"] == first.json["id"]
    assert len(jobs_of(tenant)) == 1


def test_a_change_whose_committed_write_timed_out_is_one_change_and_one_event(tenant: TenantCredentials) -> None:
    job = ApiClient(tenant.api_key).submit().json
    service = wiring.job_service()
    # When the job's start (the job item, written before its event) commits, times out on the
    # client and is sent again
    with commit_then_time_out(aws.dynamodb(), "PutItem") as cut_off:
        running = service.start_running(job["id"])
    # Then it is running once: one "started" event, not a refusal of running -> running
    assert cut_off == [1]
    assert running.status.value == "running"
    events = ApiClient(tenant.api_key).request("GET", f"/jobs/{job['id']}/events").json["items"]
    assert [event["type"] for event in events].count("job.started") == 1
    assert [event["sequence"] for event in events] == list(range(1, len(events) + 1))


def test_a_client_request_token_rides_on_every_job_transaction(tenant: TenantCredentials) -> None:
    # DynamoDB (and DynamoDB Local) answer a retried token with success for 10 minutes.
    tokens: list[str | None] = []

    def record(params: dict[str, object], **_: object) -> None:
        token = params.get("ClientRequestToken")
        tokens.append(token if isinstance(token, str) else None)

    aws.dynamodb().meta.events.register("provide-client-params.dynamodb.TransactWriteItems", record)
    # The transactions of a job: its create with an Idempotency-Key's claim, and its end.
    job = ApiClient(tenant.api_key, {"Idempotency-Key": "order-8"}).submit().json
    service = wiring.job_service()
    service.start_running(job["id"])
    service.complete(job["id"], {"ok": True})
    assert len(tokens) == 2
    assert all(tokens)
    assert len(set(tokens)) == 2
