"""jobgate_client.webhooks: verification (rotation included), de-duplication, per-job ordering and
its gap policy, and the WSGI and ASGI shells, driven for real (werkzeug, Flask, an ASGI call loop)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import pytest
from standardwebhooks import Webhook
from werkzeug.test import Client

from jobgate.domain.models import EventType
from jobgate.ids import new_job_id
from jobgate.webhooks.signing import new_webhook_secret, webhook_id
from jobgate_client.webhooks import MemorySeenStore, Verdict, WebhookEvent, WebhookReceiver
from tests.conftest import REPO
from tests.webhook_events import event_body

SECRET = new_webhook_secret()
OLD_SECRET = new_webhook_secret()
WAIT_SECONDS = 30  # an upper bound for things that happen at once, not a measurement
EXAMPLE = REPO / "clients/python/examples/receiver.py"


def signed(body: bytes, msg_id: str, *secrets: str, at: datetime | None = None) -> dict[str, str]:
    """Standard Webhooks headers made with the standardwebhooks library, one signature per secret."""
    timestamp = at or datetime.now(UTC)
    signatures = " ".join(Webhook(s).sign(msg_id, timestamp, body.decode()) for s in secrets or (SECRET,))
    return {
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(int(timestamp.timestamp())),
        "Webhook-Signature": signatures,
        "Content-Type": "application/json",
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.events: list[WebhookEvent] = []
        self.late: list[WebhookEvent] = []

    def __call__(self, event: WebhookEvent) -> None:
        self.events.append(event)

    def sequences(self, job_id: str | None = None) -> list[int]:
        return [e.sequence for e in self.events if job_id is None or e.job_id == job_id]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver(recorder: Recorder, clock: Clock) -> Iterator[WebhookReceiver]:
    made = WebhookReceiver(SECRET, recorder, on_late=recorder.late.append, background=False, clock=clock)
    yield made
    made.close()


def deliver(receiver: WebhookReceiver, job_id: str, sequence: int, **body_options: Any) -> int:
    body = event_body(job_id, sequence, **body_options)
    return receiver.receive(signed(body, webhook_id(job_id, sequence)), body).status


def test_a_signed_event_is_handed_over_once_and_answered_204(receiver: WebhookReceiver, recorder: Recorder) -> None:
    job_id = new_job_id()
    body = event_body(job_id, 1)
    outcome = receiver.receive(signed(body, webhook_id(job_id, 1)), body)
    assert (outcome.verdict, outcome.status) == (Verdict.HANDED_OVER, 204)
    [event] = recorder.events
    assert (event.job_id, event.sequence, event.type, event.job["status"]) == (job_id, 1, "job.progress", "running")
    assert event.webhook_id == f"{job_id}.1"


def test_during_a_rotation_either_secret_verifies(recorder: Recorder) -> None:
    job_id = new_job_id()
    holding_both = Recorder()
    both = WebhookReceiver([SECRET, OLD_SECRET], holding_both, background=False)
    old_only = WebhookReceiver(OLD_SECRET, recorder, background=False)
    other = WebhookReceiver(new_webhook_secret(), recorder, background=False)
    body = event_body(job_id, 1)
    # jobgate signs with the new and the old secret while a rotation lasts.
    rotating = signed(body, webhook_id(job_id, 1), SECRET, OLD_SECRET)
    assert old_only.receive(rotating, body).status == 204
    assert other.receive(rotating, body).status == 401
    assert recorder.sequences() == [1]
    # A receiver holding both takes what only the old one, or only the new one, signed.
    second = event_body(job_id, 2)
    assert both.receive(signed(body, webhook_id(job_id, 1), OLD_SECRET), body).status == 204
    assert both.receive(signed(second, webhook_id(job_id, 2), SECRET), second).status == 204
    assert holding_both.sequences() == [1, 2]


def test_what_does_not_verify_is_refused_as_standard_webhooks_says(
    receiver: WebhookReceiver, recorder: Recorder
) -> None:
    job_id = new_job_id()
    body = event_body(job_id, 1)
    headers = signed(body, webhook_id(job_id, 1))
    assert receiver.receive(signed(body, webhook_id(job_id, 1), new_webhook_secret()), body).status == 401
    assert receiver.receive(headers, body.replace(b'"running"', b'"failed"')).status == 401
    stale = signed(body, webhook_id(job_id, 1), at=datetime.now(UTC) - timedelta(minutes=6))
    assert receiver.receive(stale, body).status == 401
    early = signed(body, webhook_id(job_id, 1), at=datetime.now(UTC) + timedelta(minutes=6))
    assert receiver.receive(early, body).status == 401
    assert receiver.receive({"content-type": "application/json"}, body).status == 400
    assert receiver.receive({**headers, "Webhook-Signature": "garbage"}, body).status == 400
    assert receiver.receive({**headers, "Webhook-Timestamp": "soon"}, body).status == 400
    not_an_event = b'{"hello": "world"}'
    assert receiver.receive(signed(not_an_event, "msg_1"), not_an_event).status == 400
    assert recorder.events == []
    # Nothing refused counted as received: the genuine request is still taken.
    assert receiver.receive(headers, body).status == 204


def test_a_retry_or_redelivery_with_the_same_webhook_id_is_answered_200_and_not_handed_again(
    receiver: WebhookReceiver, recorder: Recorder
) -> None:
    job_id = new_job_id()
    assert deliver(receiver, job_id, 1) == 204
    body = event_body(job_id, 1)
    again = receiver.receive(signed(body, webhook_id(job_id, 1)), body)  # signed anew, as a retry is
    assert (again.verdict, again.status) == (Verdict.DUPLICATE, 200)
    assert recorder.sequences() == [1]


def test_out_of_order_events_are_held_and_handed_over_in_sequence(
    receiver: WebhookReceiver, recorder: Recorder
) -> None:
    job_id, other_job = new_job_id(), new_job_id()
    assert deliver(receiver, job_id, 1) == 204
    assert deliver(receiver, job_id, 3) == 202  # 2 is still on its way (a retried attempt)
    assert deliver(receiver, job_id, 4) == 202
    assert deliver(receiver, other_job, 1) == 204  # another job is not held up
    assert recorder.sequences(job_id) == [1]
    assert receiver.held_count == 2
    outcome = receiver.receive(signed(event_body(job_id, 2), webhook_id(job_id, 2)), event_body(job_id, 2))
    assert outcome.status == 204
    assert [e.sequence for e in outcome.handed_over] == [2, 3, 4]
    assert recorder.sequences(job_id) == [1, 2, 3, 4]
    assert receiver.held_count == 0


def test_a_gap_that_never_fills_is_given_up_after_gap_timeout_and_its_event_is_late(
    receiver: WebhookReceiver, recorder: Recorder, clock: Clock
) -> None:
    job_id = new_job_id()
    deliver(receiver, job_id, 1)
    deliver(receiver, job_id, 3)
    clock.now += 9.9
    assert receiver.release_overdue() == ()
    clock.now += 0.1  # the default gap_timeout, 10 s
    assert [e.sequence for e in receiver.release_overdue()] == [3]
    assert recorder.sequences() == [1, 3]
    # The missing event turns up after all: too late for the handler, given to on_late.
    assert deliver(receiver, job_id, 2) == 200
    assert recorder.sequences() == [1, 3]
    assert [e.sequence for e in recorder.late] == [2]


def test_the_next_request_also_hands_over_what_waited_too_long(
    receiver: WebhookReceiver, recorder: Recorder, clock: Clock
) -> None:
    job_id = new_job_id()
    deliver(receiver, job_id, 2)  # the receiver started after event 1 (or 1 is being retried)
    clock.now += 10
    other_job = new_job_id()
    body = event_body(other_job, 1)
    outcome = receiver.receive(signed(body, webhook_id(other_job, 1)), body)
    assert [(e.job_id, e.sequence) for e in outcome.handed_over] == [(job_id, 2), (other_job, 1)]


def test_the_background_timer_hands_over_a_held_event_without_another_request(recorder: Recorder) -> None:
    job_id = new_job_id()
    arrived = threading.Event()

    def handle(event: WebhookEvent) -> None:
        recorder(event)
        if event.sequence == 3:
            arrived.set()

    receiver = WebhookReceiver(SECRET, handle, gap_timeout=0.05)
    try:
        deliver(receiver, job_id, 1)
        assert deliver(receiver, job_id, 3) == 202
        assert arrived.wait(WAIT_SECONDS)
    finally:
        receiver.close()
    assert recorder.sequences() == [1, 3]


def test_a_full_buffer_gives_up_the_gap(recorder: Recorder) -> None:
    job_id, other_job = new_job_id(), new_job_id()
    receiver = WebhookReceiver(SECRET, recorder, max_held_per_job=2, max_held=3, background=False)
    deliver(receiver, job_id, 1)
    assert [deliver(receiver, job_id, s) for s in (3, 4)] == [202, 202]
    # A third held event of one job is one too many: the gap (2) is given up.
    assert deliver(receiver, job_id, 5) == 204
    assert recorder.sequences(job_id) == [1, 3, 4, 5]
    # Across jobs: the fourth held event gives up the gap that has waited longest.
    assert [deliver(receiver, other_job, s) for s in (2, 3)] == [202, 202]
    assert deliver(receiver, job_id, 7) == 202
    assert deliver(receiver, job_id, 8) == 202
    assert recorder.sequences(other_job) == [2, 3]
    assert receiver.held_count == 2


def test_release_hands_over_held_events_on_request(receiver: WebhookReceiver, recorder: Recorder) -> None:
    job_id, other_job = new_job_id(), new_job_id()
    deliver(receiver, job_id, 2)
    deliver(receiver, job_id, 4)
    deliver(receiver, other_job, 5)
    assert [e.sequence for e in receiver.release(job_id)] == [2, 4]
    assert recorder.sequences() == [2, 4]
    assert [e.job_id for e in receiver.release()] == [other_job]


def test_a_callback_that_filters_event_types_is_never_held(receiver: WebhookReceiver, recorder: Recorder) -> None:
    job_id = new_job_id()
    # Subscribed to two types: the sequences between them are gaps by design.
    assert deliver(receiver, job_id, 1, events=["job.started", "job.succeeded"]) == 204
    assert deliver(receiver, job_id, 8, events=["job.started", "job.succeeded"]) == 204
    assert recorder.sequences() == [1, 8]
    # Subscribed to every type: every sequence comes, so a gap is waited for.
    every_type = [t.value for t in EventType]
    assert deliver(receiver, new_job_id(), 2, events=every_type) == 202


def test_a_failing_handler_answers_500_so_that_the_retry_is_taken(recorder: Recorder) -> None:
    job_id = new_job_id()
    failures = [RuntimeError("database down")]

    def handle(event: WebhookEvent) -> None:
        if failures:
            raise failures.pop()
        recorder(event)

    receiver = WebhookReceiver(SECRET, handle, background=False)
    assert deliver(receiver, job_id, 1) == 500
    assert deliver(receiver, job_id, 1) == 204  # jobgate's retry: same webhook-id, taken now
    assert recorder.sequences() == [1]


def test_the_memory_store_is_bounded_in_size_and_time(clock: Clock) -> None:
    store = MemorySeenStore(max_ids=2, ttl_seconds=60, clock=clock)
    assert store.add("a")
    assert store.add("b")
    assert not store.add("a")
    assert store.add("c")  # over max_ids: "a", the oldest, is forgotten
    assert len(store) == 2
    assert store.add("a")
    clock.now += 60
    assert store.add("c")  # past ttl_seconds: forgotten
    assert len(store) == 1


def test_the_wsgi_app_answers_with_the_receivers_status(receiver: WebhookReceiver, recorder: Recorder) -> None:
    client = Client(receiver.wsgi_app)
    job_id = new_job_id()
    body = event_body(job_id, 1)
    headers = signed(body, webhook_id(job_id, 1))
    assert client.post("/anywhere", data=body, headers=headers).status_code == 204
    assert client.post("/anywhere", data=body, headers=headers).status_code == 200
    refused = client.post("/", data=body, headers={**headers, "Webhook-Id": "other"})
    assert refused.status_code == 401
    assert client.get("/").status_code == 405
    too_large = b"{" + b" " * (1024 * 1024) + b"}"
    assert client.post("/", data=too_large, headers=signed(too_large, "big")).status_code == 413
    assert recorder.sequences() == [1]


def test_a_flask_app_mounts_it_in_one_line(receiver: WebhookReceiver, recorder: Recorder) -> None:
    app = flask.Flask(__name__)

    @app.get("/health")
    def health() -> str:
        return "ok"

    app.wsgi_app = receiver.wsgi_middleware(app.wsgi_app, "/jobgate")  # type: ignore[method-assign,assignment]
    client = app.test_client()
    job_id = new_job_id()
    body = event_body(job_id, 1)
    assert client.post("/jobgate", data=body, headers=signed(body, webhook_id(job_id, 1))).status_code == 204
    assert client.get("/health").text == "ok"
    assert recorder.sequences() == [1]


def asgi_call(app: Any, scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drive an ASGI app as a server does: feed `messages`, collect what it sends."""
    sent: list[dict[str, Any]] = []
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def http_scope(method: str, headers: dict[str, str]) -> dict[str, Any]:
    encoded = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return {"type": "http", "method": method, "path": "/jobgate", "headers": encoded}


def test_the_asgi_app_answers_with_the_receivers_status(receiver: WebhookReceiver, recorder: Recorder) -> None:
    job_id = new_job_id()
    body = event_body(job_id, 1)
    headers = signed(body, webhook_id(job_id, 1))
    half = len(body) // 2  # a body in two messages, as servers pass large ones
    chunks: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[:half], "more_body": True},
        {"type": "http.request", "body": body[half:]},
    ]
    first = asgi_call(receiver.asgi_app, http_scope("POST", headers), chunks)
    assert first[0]["type"] == "http.response.start"
    assert first[0]["status"] == 204
    again = asgi_call(receiver.asgi_app, http_scope("POST", headers), [{"type": "http.request", "body": body}])
    assert again[0]["status"] == 200
    bad = asgi_call(receiver.asgi_app, http_scope("POST", {}), [{"type": "http.request", "body": body}])
    assert bad[0]["status"] == 400
    assert asgi_call(receiver.asgi_app, http_scope("GET", {}), [])[0]["status"] == 405
    lifespan = asgi_call(
        receiver.asgi_app, {"type": "lifespan"}, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    )
    assert [m["type"] for m in lifespan] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert recorder.sequences() == [1]


def test_the_example_prints_each_event_once_in_order() -> None:
    environment = {**os.environ, "JOBGATE_WEBHOOK_SECRET": f"{SECRET} {OLD_SECRET}"}
    environment["PYTHONPATH"] = os.pathsep.join(str(REPO / part) for part in ("clients/python", "layers/jobgate"))
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--port", "0"], env=environment, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        job_id = new_job_id()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        statuses = []
        for sequence in (1, 3, 2, 2):  # 3 before 2, and 2 twice
            body = event_body(job_id, sequence)
            request = urllib.request.Request(url, body, signed(body, webhook_id(job_id, sequence), OLD_SECRET))
            with opener.open(request, timeout=WAIT_SECONDS) as response:
                statuses.append(response.status)
        printed = [process.stdout.readline().split() for _ in range(3)]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT_SECONDS) == 0
    finally:
        process.kill()
    assert statuses == [204, 202, 204, 200]
    assert [line[:3] for line in printed] == [[job_id, str(s), "job.progress"] for s in (1, 2, 3)]


def test_the_receiver_code_in_docs_clients_md_is_the_examples() -> None:
    section = (REPO / "docs/clients.md").read_text().split("## Receiving webhooks")[1].split("\n## ")[0]
    snippet = section.split("```python\n")[1].split("```")[0]
    assert "WebhookReceiver(secrets, handler)" in snippet
    assert snippet in EXAMPLE.read_text()
