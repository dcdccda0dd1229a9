"""The whole system over real HTTP: the real state machine, tasks, reconciler and API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from jobgate_cli.main import main
from tests.e2e.conftest import OTHER_API_KEY, Client, eventually
from tests.e2e.receivers import Receiver, running


def test_a_job_runs_from_submit_to_succeeded_with_progress(client: Client) -> None:
    job = client.submit({"steps": 3, "stepSeconds": 1})
    assert job["status"] == "queued"
    # Watch it work: some poll sees it running part-way through.
    halfway = client.wait_for(job["id"], lambda j: j["progress"]["percent"] > 0)
    assert halfway["status"] == "running"
    assert 0 < halfway["progress"]["percent"] < 100
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "succeeded"
    assert done["progress"]["percent"] == 100
    assert [s["status"] for s in done["progress"]["steps"]] == ["succeeded"] * 3
    assert client.request("GET", f"/jobs/{job['id']}/result").json()["steps"] == 3
    events = client.request("GET", f"/jobs/{job['id']}/events").json()["items"]
    assert [e["sequence"] for e in events] == list(range(1, 9))
    assert events[0]["type"] == "job.started"
    assert events[-1]["type"] == "job.succeeded"


# Planned past a minute: the demo runs as a Standard workflow (the others here run as Express).
STANDARD = {"steps": 5, "stepSeconds": 20}


def test_cancel_while_running_stops_the_work(client: Client, aws: Callable[[str], Any]) -> None:
    job = client.submit(STANDARD)
    client.wait_for(job["id"], lambda j: j["status"] == "running")
    response = client.request("DELETE", f"/jobs/{job['id']}")
    assert response.status_code == 202
    cancelled = client.wait_until_terminal(job["id"])
    assert cancelled["status"] == "cancelled"
    steps_done = [s["name"] for s in cancelled["progress"]["steps"] if s["status"] == "succeeded"]
    execution_arn = f"arn:aws:states:us-east-1:123456789012:execution:local-job-demo:{job['id']}"
    execution = eventually(
        lambda: aws("stepfunctions").describe_execution(executionArn=execution_arn),
        lambda described: described["status"] != "RUNNING",
    )
    # moto stops an execution at its next state; if a task ran first it found the job
    # cancelled and the workflow ended through its JobCancelled path instead.
    assert execution["status"] == "ABORTED" or execution.get("error") == "JobCancelled"
    time.sleep(2.5)  # longer than a task: nothing more may happen to a cancelled job
    after = client.job(job["id"])
    assert after["status"] == "cancelled"
    assert [s["name"] for s in after["progress"]["steps"] if s["status"] == "succeeded"] == steps_done


def test_an_express_job_cancelled_mid_run_ends_cancelled_at_its_next_step(
    client: Client, aws: Callable[[str], Any]
) -> None:
    # Given a short demo (Express, which cannot be stopped) past its first step
    job = client.submit({"steps": 5, "stepSeconds": 2})
    client.wait_for(job["id"], lambda j: any(s["status"] == "succeeded" for s in j["progress"]["steps"]))
    # When its owner cancels it, the answer is "cancelling": the run ends at its next step
    response = client.request("DELETE", f"/jobs/{job['id']}")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelling"
    cancelled = client.wait_until_terminal(job["id"])
    assert cancelled["status"] == "cancelled"
    steps_done = [s["name"] for s in cancelled["progress"]["steps"] if s["status"] == "succeeded"]
    assert len(steps_done) < 5
    # Then there is one terminal event, and nothing more happens to the job
    time.sleep(2.5)  # longer than a step's pause
    events = client.request("GET", f"/jobs/{job['id']}/events").json()["items"]
    assert [e["type"] for e in events if e["type"] in {"job.succeeded", "job.failed", "job.cancelled"}] == [
        "job.cancelled"
    ]
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert client.job(job["id"])["progress"]["steps"] == cancelled["progress"]["steps"]
    # It ran on the Express state machine: there is no Standard execution of it
    standard_arn = f"arn:aws:states:us-east-1:123456789012:execution:local-job-demo:{job['id']}"
    with pytest.raises(ClientError, match="ExecutionDoesNotExist"):
        aws("stepfunctions").describe_execution(executionArn=standard_arn)


def test_a_demo_planned_past_a_minute_runs_as_a_standard_workflow(client: Client, aws: Callable[[str], Any]) -> None:
    job = client.submit({"steps": 2, "stepSeconds": 61})
    client.wait_for(job["id"], lambda j: j["status"] == "running")
    standard_arn = f"arn:aws:states:us-east-1:123456789012:execution:local-job-demo:{job['id']}"
    assert aws("stepfunctions").describe_execution(executionArn=standard_arn)["status"] == "RUNNING"
    # A Standard run is stopped on cancel, and the job is cancelled at once
    assert client.request("DELETE", f"/jobs/{job['id']}").json()["status"] == "cancelled"


def test_a_failing_step_ends_the_job_failed_with_the_step_named(client: Client) -> None:
    job = client.submit({"steps": 3, "stepSeconds": 0, "failAtStep": 2})
    failed = client.wait_until_terminal(job["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["type"] == "DemoStepFailed"
    assert failed["error"]["step"] == "step-2"
    assert [s["status"] for s in failed["progress"]["steps"]] == ["succeeded", "failed", "pending"]
    assert client.request("GET", f"/jobs/{job['id']}/result").status_code == 409


def test_an_execution_stopped_outside_jobgate_is_reconciled_to_failed(
    client: Client, aws: Callable[[str], Any]
) -> None:
    job = client.submit(STANDARD)
    client.wait_for(job["id"], lambda j: j["status"] == "running")
    # Someone stops the execution in the console: the workflow never reports to its job.
    execution_arn = f"arn:aws:states:us-east-1:123456789012:execution:local-job-demo:{job['id']}"
    aws("stepfunctions").stop_execution(executionArn=execution_arn, error="Manual", cause="stopped by an operator")
    reconciled = client.wait_until_terminal(job["id"])
    assert reconciled["status"] == "failed"
    assert reconciled["error"]["type"] == "execution-aborted"


def test_long_poll_returns_when_the_job_changes(client: Client) -> None:
    job = client.submit({"steps": 2, "stepSeconds": 1})
    etag = client.request("GET", f"/jobs/{job['id']}").headers["ETag"]
    response = client.request("GET", f"/jobs/{job['id']}", headers={"If-None-Match": etag, "Prefer": "wait=20"})
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "wait=20"
    assert response.headers["ETag"] != etag  # a change ended it: a wait that ran out is a 304


def test_tenants_are_isolated_over_http(client: Client, local_stack: Any) -> None:
    job = client.submit({"steps": 1, "stepSeconds": 0})
    other = Client(local_stack.api_url, OTHER_API_KEY)
    assert other.request("GET", f"/jobs/{job['id']}").status_code == 404
    assert job["id"] not in [j["id"] for j in other.request("GET", "/jobs").json()["items"]]


def test_missing_key_is_401_with_the_contracts_body(local_stack: Any) -> None:
    import requests

    response = requests.get(f"{local_stack.api_url}/jobs", timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="jobgate"'
    assert response.headers["Content-Type"] == "application/problem+json"


def test_an_expired_job_reads_gone_then_the_ttl_sweeper_removes_it(client: Client, aws: Callable[[str], Any]) -> None:
    job = client.submit({"steps": 1, "stepSeconds": 0}, retention="PT1S")
    client.wait_until_terminal(job["id"])
    deadline = time.monotonic() + 10
    statuses: list[int] = []
    while time.monotonic() < deadline:
        status = client.request("GET", f"/jobs/{job['id']}").status_code
        if not statuses or statuses[-1] != status:
            statuses.append(status)
        if status == 404:
            break
        time.sleep(0.1)
    # 200 until expiresAt, 410 until the sweeper (DynamoDB TTL) deletes it, then 404:
    # the 410 window can be shorter than a poll, so it may not be seen.
    assert statuses in ([200, 410, 404], [200, 404])
    assert removed_by_ttl(aws, job["id"])


def removed_by_ttl(aws: Callable[[str], Any], job_id: str) -> bool:
    """The deletion reached the table's stream as a REMOVE record, as DynamoDB TTL's does."""
    streams = aws("dynamodbstreams")
    stream_arn = aws("dynamodb").describe_table(TableName="JobsTable")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return any(
        r["eventName"] == "REMOVE" and r["dynamodb"]["Keys"] == {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}
        for r in records
    )


def test_an_expired_jobs_result_object_goes_with_it(client: Client, aws: Callable[[str], Any]) -> None:
    large = {"steps": 1, "stepSeconds": 0, "resultBytes": 100_000}
    kept = client.submit(large)
    expiring = client.submit(large, retention="PT1S")
    for job in (kept, expiring):
        assert client.wait_until_terminal(job["id"])["status"] == "succeeded"
    s3 = aws("s3")

    def objects_of(job_id: str) -> list[str]:
        return [
            entry["Key"]
            for bucket in s3.list_buckets()["Buckets"]
            for entry in s3.list_objects_v2(Bucket=bucket["Name"], Prefix="results/").get("Contents", [])
            if job_id in entry["Key"]
        ]

    eventually(lambda: removed_by_ttl(aws, expiring["id"]), bool)
    eventually(lambda: objects_of(expiring["id"]), lambda found: found == [])
    assert len(objects_of(kept["id"])) == 1
    assert client.request("GET", f"/jobs/{kept['id']}/result").status_code == 303


def test_a_disabled_tenant_gets_403_over_http_and_its_running_job_still_finishes(
    local_stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import requests

    def tenants(*arguments: str) -> Any:
        table = ["--table", "TenantsTable", "--endpoint-url", local_stack.dynamodb_url, "--json"]
        assert main(["tenants", *arguments, *table]) == 0
        return json.loads(capsys.readouterr().out)

    key = tenants("create", "e2e-disabled")["apiKey"]
    with running(Receiver()) as receiver:
        client = Client(local_stack.api_url, key)
        job = client.submit({"steps": 3, "stepSeconds": 1}, callback={"url": receiver.url, "events": ["job.succeeded"]})
        # A key the API has not seen yet: the one above is in a warm function's cache for 60 s.
        unused_key = tenants("rotate-key", "e2e-disabled")["apiKey"]
        tenants("disable", "e2e-disabled")
        refused = requests.get(
            f"{local_stack.api_url}/jobs/{job['id']}", headers={"Authorization": f"Bearer {unused_key}"}, timeout=5
        )
        assert refused.status_code == 403
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:jobgate:problem:tenant-disabled"
        (succeeded,) = eventually(lambda: receiver.events_of(job["id"]), lambda found: len(found) == 1)
    assert succeeded.event["type"] == "job.succeeded"
    assert succeeded.event["data"]["job"]["status"] == "succeeded"
