"""A webhook attempt's deadline bounds the whole exchange: receivers that trickle bytes are cut off,
and the dispatcher's first attempt waits only its shorter deadline before the retry queue takes over.

requests' read timeout is per socket read, so a receiver sending a byte more often than that
would hold an attempt forever; these receivers do exactly that, on 127.0.0.1.
"""

from __future__ import annotations

import json

import boto3
import pytest

from jobgate import wiring
from jobgate.config import Settings
from jobgate.store.events import StoredEvent
from jobgate.tenants import TenantCredentials
from jobgate.webhooks.delivery import AttemptResponse, RetryMessage, send_over_http
from tests.e2e.receivers import Receiver, TricklingReceiver, running, trickling


@pytest.fixture
def settings() -> Settings:
    return Settings.from_environment().model_copy(
        update={
            "webhook_allowed_networks": "127.0.0.1/32",
            "webhook_connect_timeout_seconds": 1.0,
            "webhook_attempt_timeout_seconds": 1.0,
        }
    )


def attempt(receiver: TricklingReceiver, settings: Settings) -> AttemptResponse:
    return send_over_http(
        receiver.url, b"{}", {"Content-Type": "application/json"}, settings, settings.webhook_attempt_timeout_seconds
    )


@pytest.mark.parametrize(
    ("head", "trickle"),
    [
        pytest.param(b"", b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 1000, id="status-line"),
        # Cut off mid-headers, http.client would take the end of the stream for their end: a 200.
        pytest.param(b"HTTP/1.1 200 OK\r\n", b"X-Padding: " + b"a" * 1000, id="headers"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"x", id="body-after-a-2xx"),
    ],
)
def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline(
    head: bytes, trickle: bytes, settings: Settings
) -> None:
    # A byte every 0.1 s: far more often than the read timeout, so each read gets its byte in time.
    with trickling(head, trickle, interval=0.1) as receiver:
        response = attempt(receiver, settings)
        # Returned while the receiver was still sending: the attempt ended it, not the receiver.
        assert not receiver.released.is_set()
        assert receiver.was_cut_off.wait(timeout=10)
    assert (response.status_code, response.error) == (None, "timed out: no complete answer within 1 s")


def stored_event(job_id: str, sequence: int, url: str) -> StoredEvent:
    body = {"sequence": sequence, "type": "job.step", "data": {"job": {"id": job_id, "callback": {"url": url}}}}
    return StoredEvent(
        job_id=job_id, tenant_id="acme", sequence=sequence, event_type="job.step", body=json.dumps(body), ttl=2**31
    )


def retry_messages(queue_url: str) -> list[RetryMessage]:
    """The messages the queue hands out now: none sent with a delay."""
    found = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [RetryMessage.model_validate_json(m["Body"]) for m in found.get("Messages", [])]


def test_a_first_attempt_unanswered_in_time_goes_to_the_retry_queue_at_once_with_the_rest_of_its_job(
    settings: Settings, tenant: TenantCredentials
) -> None:
    queue_url = boto3.client("sqs").create_queue(QueueName="retries")["QueueUrl"]
    service = wiring.webhook_service(
        settings.model_copy(
            update={
                "webhook_first_attempt_timeout_seconds": 1.0,
                "webhook_attempt_timeout_seconds": 30.0,
                "webhook_retry_queue_url": queue_url,
            }
        )
    )
    with running(Receiver(hang=True)) as hanging:
        cut = service.first_attempt(stored_event("job_a", 1, hanging.url))
        # The next event of that job is not sent to the receiver that left the first one unanswered.
        assert service.first_attempt(stored_event("job_a", 2, hanging.url)) is None
        assert hanging.begun == 1
        assert hanging.received == []
    assert cut is not None
    assert (cut.outcome, cut.error) == ("retrying", "timed out: no complete answer within 1 s")
    assert cut.next_attempt_at == cut.attempted_at  # due at once, not after the schedule's first delay
    # Both continue on the retry queue, due now: the cut one as its second attempt, still in the
    # schedule's first round (it was cut short, not refused), the other as its first.
    queued = sorted(retry_messages(queue_url), key=lambda message: message.sequence)
    assert [(m.sequence, m.attempt, m.round) for m in queued] == [(1, 2, 1), (2, 1, 1)]
