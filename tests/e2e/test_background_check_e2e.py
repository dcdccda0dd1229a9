"""The background-check job type end to end: vendors called at once, signed callbacks, timeouts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from jobgate.jobtypes.background_check import signing
from jobgate_cli.local.stack import LocalStack
from jobgate_cli.simulators.vendors import SECRET_RESOURCE
from tests.e2e.conftest import Client, aws_clients, eventually, start_local_stack
from tests.e2e.receivers import Receiver, running

VENDORS = ["identity", "criminal", "employment", "education"]
# Vendors get this long to answer (half of it at the stack's time scale); the simulator answers
# in well under a second, but a callback that meets a cold API environment also waits for its
# start and its first read of the vendor secret (Secrets Manager): on a busy machine, seconds.
VENDOR_TIMEOUT_SECONDS = 6


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    stack = start_local_stack(
        time_scale=0.5, parameter_overrides={"VendorCheckTimeoutSeconds": str(VENDOR_TIMEOUT_SECONDS)}
    )
    yield stack
    stack.stop()


def candidate(full_name: str) -> dict[str, Any]:
    return {"fullName": full_name, "dateOfBirth": "1990-04-01", "email": "candidate@example.com"}


def submit(client: Client, full_name: str, **extra: Any) -> dict[str, Any]:
    body = {"type": "background-check", "input": {"candidate": candidate(full_name), **extra.pop("input", {})}}
    response = client.request("POST", "/jobs", json={**body, **extra})
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


def steps(job: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any] | None]]:
    return {step["name"]: (step["status"], step["detail"]) for step in job["progress"]["steps"]}


def step_changes(events: list[dict[str, Any]]) -> list[str]:
    """Each job.step event's 'vendor: status' (the step change it announces)."""
    return [e["data"]["job"]["progress"]["message"].rstrip(".") for e in events if e["type"] == "job.step"]


def callback_ids(stack: LocalStack, job_id: str, vendor: str) -> list[str]:
    items = aws_clients(stack)("dynamodb").scan(TableName="JobsTable")["Items"]
    return [
        item["pk"]["S"].split("#", 1)[1]
        for item in items
        if item["pk"]["S"].startswith("VENDOR-CALLBACK#")
        and item["jobId"]["S"] == job_id
        and item["vendor"]["S"] == vendor
    ]


def stack_vendor_secret(stack: LocalStack) -> str:
    """The stack's vendor secret, read from its Secrets Manager as an operator does for a vendor."""
    value: str = aws_clients(stack)("secretsmanager").get_secret_value(SecretId=SECRET_RESOURCE)["SecretString"]
    return value


def post_callback(
    stack: LocalStack, callback_id: str, answer: dict[str, Any], secret: str | None = None
) -> requests.Response:
    body = json.dumps(answer).encode()
    signature = signing.sign(secret or stack_vendor_secret(stack), callback_id, body)
    return requests.post(
        f"{stack.api_url}/vendor-callbacks/{callback_id}",
        data=body,
        headers={"Content-Type": "application/json", signing.SIGNATURE_HEADER: signature},
        timeout=10,
    )


def test_every_vendor_clear_gives_a_clear_verdict(client: Client) -> None:
    job = submit(client, "Ada Lovelace")
    assert [s["name"] for s in job["progress"]["steps"]] == VENDORS
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "succeeded"
    assert {name: status for name, (status, _) in steps(done).items()} == dict.fromkeys(VENDORS, "succeeded")
    result = client.request("GET", f"/jobs/{job['id']}/result").json()
    assert result == {"findings": dict.fromkeys(VENDORS, "clear"), "verdict": "clear"}


def test_a_criminal_record_is_found(client: Client) -> None:
    job = submit(client, "Rex Record", input={"checks": ["criminal", "identity"]})
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "succeeded"
    assert steps(done)["criminal"][1]["finding"] == "record_found"  # type: ignore[index]
    result = client.request("GET", f"/jobs/{job['id']}/result").json()
    assert result == {"findings": {"identity": "clear", "criminal": "record_found"}, "verdict": "record_found"}


def test_a_silent_vendor_times_out_inconclusive_while_the_others_complete(client: Client) -> None:
    job = submit(client, "Sam Silent")
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "succeeded"
    status, detail = steps(done)["employment"]
    assert status == "skipped"
    assert detail == {
        "finding": "inconclusive",
        "reason": f"vendor did not answer within {VENDOR_TIMEOUT_SECONDS} s",
    }
    assert all(steps(done)[v][0] == "succeeded" for v in ["identity", "criminal", "education"])
    result = client.request("GET", f"/jobs/{job['id']}/result").json()
    assert result["findings"]["employment"] == "inconclusive"
    assert result["verdict"] == "inconclusive"


def test_an_unreachable_vendor_is_retried_then_inconclusive(client: Client) -> None:
    job = submit(client, "Dana Down", input={"checks": ["identity", "education"]})
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "succeeded"
    status, detail = steps(done)["identity"]
    assert status == "skipped"
    assert detail == {"finding": "inconclusive", "reason": "vendor could not be reached (VendorUnavailable)"}
    assert client.request("GET", f"/jobs/{job['id']}/result").json()["verdict"] == "inconclusive"


def test_a_duplicate_vendor_callback_is_ignored(client: Client, local_stack: LocalStack) -> None:
    job = submit(client, "Tom Twice")
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "succeeded"
    events = client.request("GET", f"/jobs/{job['id']}/events").json()["items"]
    # The workflow resumed once per vendor: one running and one finished step event each.
    changes = step_changes(events)
    assert sorted(changes) == sorted([f"{v}: running" for v in VENDORS] + [f"{v}: succeeded" for v in VENDORS])
    # Answering again is acknowledged and changes nothing.
    [callback_id] = callback_ids(local_stack, job["id"], "identity")
    again = post_callback(local_stack, callback_id, {"vendor": "identity", "finding": "record_found"})
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert client.request("GET", f"/jobs/{job['id']}/result").json()["findings"]["identity"] == "clear"


def test_a_badly_signed_callback_is_refused_and_the_check_still_times_out(
    client: Client, local_stack: LocalStack
) -> None:
    job = submit(client, "Sue Silent", input={"checks": ["employment"]})
    [callback_id] = eventually(lambda: callback_ids(local_stack, job["id"], "employment"), lambda ids: len(ids) == 1)
    forged = post_callback(local_stack, callback_id, {"vendor": "employment", "finding": "clear"}, secret="x" * 40)
    assert forged.status_code == 401
    assert forged.headers["Content-Type"] == "application/problem+json"
    unsigned = requests.post(
        f"{local_stack.api_url}/vendor-callbacks/{callback_id}",
        json={"vendor": "employment", "finding": "clear"},
        timeout=10,
    )
    assert unsigned.status_code == 401
    assert client.job(job["id"])["status"] == "running"
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "succeeded"
    assert steps(done)["employment"][1]["finding"] == "inconclusive"  # type: ignore[index]


def test_an_unknown_callback_id_is_404(local_stack: LocalStack) -> None:
    response = post_callback(local_stack, f"vcb_{uuid.uuid4().hex}", {"vendor": "identity", "finding": "clear"})
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_each_vendor_status_change_arrives_as_a_job_step_webhook(client: Client) -> None:
    with running(Receiver()) as receiver:
        job = submit(
            client, "Wendy Webhook", input={"checks": ["identity", "education"]}, callback={"url": receiver.url}
        )
        client.wait_until_terminal(job["id"])
        received = eventually(
            lambda: receiver.events_of(job["id"]),
            lambda found: any(r.event["type"] == "job.succeeded" for r in found),
        )
    changes = step_changes([r.event for r in received])
    for vendor in ["identity", "education"]:
        assert [c for c in changes if c.startswith(vendor)] == [f"{vendor}: running", f"{vendor}: succeeded"]


def test_cancel_while_waiting_for_a_vendor_stops_the_check(client: Client, local_stack: LocalStack) -> None:
    job = submit(client, "Carl Silent", input={"checks": ["employment"]})
    [callback_id] = eventually(lambda: callback_ids(local_stack, job["id"], "employment"), lambda ids: len(ids) == 1)
    assert client.request("DELETE", f"/jobs/{job['id']}").status_code == 202
    cancelled = client.wait_until_terminal(job["id"])
    assert cancelled["status"] == "cancelled"
    execution_arn = f"arn:aws:states:us-east-1:123456789012:execution:local-job-background-check:{job['id']}"
    execution = eventually(
        lambda: aws_clients(local_stack)("stepfunctions").describe_execution(executionArn=execution_arn),
        lambda described: described["status"] != "RUNNING",
    )
    # AWS aborts the waiting execution at once (ABORTED); moto stops a task waiting for its
    # token only when the task times out, and then reports the execution FAILED.
    assert execution["status"] in {"ABORTED", "FAILED"}
    # A vendor answering now is told the check is over; nothing resumes.
    late = post_callback(local_stack, callback_id, {"vendor": "employment", "finding": "clear"})
    assert late.status_code == 410
    assert late.headers["Content-Type"] == "application/problem+json"
    after = client.job(job["id"])
    assert after["status"] == "cancelled"
    assert after["progress"]["steps"] == cancelled["progress"]["steps"]
