"""Webhooks that cannot be delivered: a schedule that runs out, and a receiver that says 410."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import Client, aws_clients, eventually, start_local_stack
from tests.e2e.receivers import Receiver, running


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    # Two retries one second apart, so giving up takes seconds, not days.
    stack = start_local_stack(parameter_overrides={"WebhookRetrySchedule": "1,1"})
    yield stack
    stack.stop()


def test_a_delivery_that_keeps_failing_ends_failed_in_the_dead_letter_queue(
    client: Client, local_stack: LocalStack
) -> None:
    with running(Receiver(refuse_first=1000, refusal_status=500)) as receiver:
        job = client.submit({"steps": 1, "stepSeconds": 0}, callback={"url": receiver.url, "events": ["job.succeeded"]})
        attempts = eventually(
            lambda: client.request("GET", f"/jobs/{job['id']}/deliveries").json()["items"],
            lambda found: any(a["outcome"] == "failed" for a in found),
        )
    assert [a["outcome"] for a in attempts] == ["retrying", "retrying", "failed"]
    assert [a["statusCode"] for a in attempts] == [500, 500, 500]
    assert len({a["webhookId"] for a in attempts}) == 1
    sqs = aws_clients(local_stack)("sqs")
    url = sqs.get_queue_url(QueueName="WebhookDeadLetterQueue")["QueueUrl"]
    dead = eventually(
        lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []), lambda found: found
    )
    assert json.loads(dead[0]["Body"])["webhookId"] == attempts[0]["webhookId"]


def test_410_gone_stops_deliveries_to_that_callback(client: Client) -> None:
    with running(Receiver(refuse_first=1000, refusal_status=410)) as receiver:
        job = client.submit({"steps": 3, "stepSeconds": 0}, callback={"url": receiver.url})
        client.wait_until_terminal(job["id"])
        attempts = eventually(
            lambda: client.request("GET", f"/jobs/{job['id']}/deliveries").json()["items"],
            lambda found: len(found) >= 1,
        )
        events = client.request("GET", f"/jobs/{job['id']}/events").json()["items"]
    # The first event was answered 410; none of the job's later events was sent.
    assert len(events) == 8
    assert [(a["sequence"], a["outcome"]) for a in attempts] == [(1, "gone")]
    assert receiver.refused == 1
