"""Receive jobgate's webhooks: verify, de-duplicate, and hand each job's events over in order.

    receiver = WebhookReceiver(["whsec_..."], handle)
    status = receiver.receive(headers, body).status      # any framework: answer with this status
    flask_app.wsgi_app = receiver.wsgi_middleware(flask_app.wsgi_app, path="/jobgate")  # Flask
    fastapi_app.mount("/jobgate", receiver.asgi_app)      # FastAPI / Starlette

docs/clients.md ("Receiving webhooks") has the policies in full.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from http import HTTPStatus
from typing import Any, Protocol
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from standardwebhooks import Webhook, WebhookVerificationError

from jobgate_client._ordering import Arrival, SequenceOrdering

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
# Every type a callback can subscribe to: a callback whose `events` lists them all gets every
# sequence of its job; one that lists fewer has gaps by design (docs/webhooks.md).
EVENT_TYPES = frozenset(
    {"job.started", "job.step", "job.progress", "job.succeeded", "job.failed", "job.cancelling", "job.cancelled"}
)
MAX_BODY_BYTES = 1024 * 1024  # jobgate's events stay under 20 KiB (large results are links)
DEFAULT_GAP_TIMEOUT_SECONDS = 10.0  # jobgate's first retry comes 5 s (±20 %) after a failed attempt

logger = logging.getLogger("jobgate_client.webhooks")


class InvalidWebhook(Exception):
    """A request that is not a verified jobgate webhook; `status` is what to answer (400 or 401)."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class WebhookVerifier:
    """Standard Webhooks verification against one or more secrets (during a rotation, both)."""

    def __init__(self, secrets: str | Sequence[str]) -> None:
        names = [secrets] if isinstance(secrets, str) else list(secrets)
        if not names:
            raise ValueError("give at least one webhook secret (whsec_...)")
        self._webhooks = [Webhook(secret) for secret in names]

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raises InvalidWebhook: 400 for missing or malformed webhook headers, 401 for a timestamp
        more than five minutes off or a signature that matches none of the secrets."""
        lowered = {name.lower(): value for name, value in headers.items()}
        if not all(lowered.get(name) for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)):
            raise InvalidWebhook(HTTPStatus.BAD_REQUEST, "missing webhook-id, webhook-timestamp or webhook-signature")
        failure = "no signature matches"
        for webhook in self._webhooks:
            try:
                webhook.verify(body, lowered, json_parse=False)
                return
            except WebhookVerificationError as error:
                failure = str(error)
                if failure == "Invalid Signature Headers":  # the library's word for a bad timestamp
                    raise InvalidWebhook(HTTPStatus.BAD_REQUEST, "webhook-timestamp is not a number") from None
            except ValueError:  # the library's split/base64/UTF-8 decoding of malformed input
                raise InvalidWebhook(HTTPStatus.BAD_REQUEST, "malformed webhook-signature or body") from None
        raise InvalidWebhook(HTTPStatus.UNAUTHORIZED, failure)


class SeenStore(Protocol):
    """Where the receiver remembers webhook ids; share one (a database) between processes."""

    def add(self, webhook_id: str) -> bool:
        """Remember the id, atomically; False if it was remembered already (a duplicate)."""
        ...

    def discard(self, webhook_id: str) -> None:
        """Forget the id: its event was not handled, and the sender's retry must be taken."""
        ...


class MemorySeenStore:
    """The default SeenStore: in this process, at most `max_ids` ids, each for `ttl_seconds`.

    jobgate retries for about three days; a redelivery can come later still, and one that finds
    its id forgotten is taken as new (and, behind later sequences, as late).
    """

    def __init__(
        self,
        *,
        max_ids: int = 100_000,
        ttl_seconds: float = 4 * 24 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_ids, self._ttl, self._clock = max_ids, ttl_seconds, clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # id -> when remembered, oldest first
        self._lock = threading.Lock()

    def add(self, webhook_id: str) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen and now - next(iter(self._seen.values())) >= self._ttl:
                self._seen.popitem(last=False)
            if webhook_id in self._seen:
                return False
            self._seen[webhook_id] = now
            while len(self._seen) > self._max_ids:
                self._seen.popitem(last=False)
            return True

    def discard(self, webhook_id: str) -> None:
        with self._lock:
            self._seen.pop(webhook_id, None)

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(frozen=True)
class WebhookEvent:
    """One verified event: the body jobgate sent (as `GET /jobs/{id}/events` lists it)."""

    webhook_id: str
    body: Mapping[str, Any]

    @property
    def sequence(self) -> int:
        sequence: int = self.body["sequence"]
        return sequence

    @property
    def type(self) -> str:
        event_type: str = self.body["type"]
        return event_type

    @property
    def job(self) -> Mapping[str, Any]:
        """The job as it was when the event happened (the job resource of `GET /jobs/{id}`)."""
        job: Mapping[str, Any] = self.body["data"]["job"]
        return job

    @property
    def job_id(self) -> str:
        job_id: str = self.job["id"]
        return job_id

    @property
    def every_sequence_sent(self) -> bool:
        """Whether the job's callback gets every event type, hence every sequence: a gap is then
        an event still on its way. A callback without `events` gets all types but job.progress
        (sent only by job types that report progress apart from steps), and counts as yes."""
        callback = self.job.get("callback") or {}
        chosen = callback.get("events") if isinstance(callback, Mapping) else None
        return chosen is None or set(chosen) >= EVENT_TYPES


class Verdict(Enum):
    """What became of a request; STATUS has the status each is answered with."""

    HANDED_OVER = "handed over"  # given to the handler (and any held events it unblocked)
    HELD = "held"  # taken, waiting for earlier sequences of its job
    DUPLICATE = "duplicate"  # its webhook-id was taken before
    LATE = "late"  # older than an event handed over already: given to `on_late`, if any
    INVALID = "invalid"  # not a verified jobgate event: 400 or 401 (see InvalidWebhook)
    HANDLER_FAILED = "handler failed"  # the handler raised on it


STATUS = {
    Verdict.HANDED_OVER: HTTPStatus.NO_CONTENT,
    Verdict.HELD: HTTPStatus.ACCEPTED,
    Verdict.DUPLICATE: HTTPStatus.OK,  # a 2xx, or the sender would retry what is here already
    Verdict.LATE: HTTPStatus.OK,
    Verdict.HANDLER_FAILED: HTTPStatus.INTERNAL_SERVER_ERROR,  # so that the sender retries it
}


@dataclass(frozen=True)
class Outcome:
    """The answer to one request: `status` to send, and what happened."""

    verdict: Verdict
    status: int
    reason: str = ""
    event: WebhookEvent | None = None
    handed_over: tuple[WebhookEvent, ...] = field(default=())  # in the order the handler got them


Handler = Callable[[WebhookEvent], None]
AsgiReceive = Callable[[], Awaitable[dict[str, Any]]]
AsgiSend = Callable[[dict[str, Any]], Awaitable[None]]


class WebhookReceiver:
    """Verifies each request, drops duplicates by `webhook-id`, and calls `handler` once per event,
    each job's events in sequence order, one event at a time.

    Out-of-order events are held (answered 202) until the sequences before them arrive, for at most
    `gap_timeout` seconds and within `max_held_per_job` / `max_held` events and `max_jobs` jobs;
    past a bound, or on `release()`, the gap is given up and the held events handed over in order.
    An event older than one already handed over is late: given to `on_late` (if set), never to
    `handler`. With `background` (the default) a daemon timer hands over events whose wait ran
    out even when no request comes; without it, that happens on the next request or
    `release_overdue()`.
    """

    def __init__(
        self,
        secrets: str | Sequence[str],
        handler: Handler,
        *,
        seen: SeenStore | None = None,
        on_late: Handler | None = None,
        on_error: Callable[[WebhookEvent, Exception], None] | None = None,
        gap_timeout: float = DEFAULT_GAP_TIMEOUT_SECONDS,
        max_held_per_job: int = 100,
        max_held: int = 1000,
        max_jobs: int = 10_000,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._verifier = WebhookVerifier(secrets)
        self._handler = handler
        self._seen: SeenStore = seen if seen is not None else MemorySeenStore()
        self._on_late = on_late
        self._on_error = on_error or _log_handler_error
        self._ordering: SequenceOrdering[WebhookEvent] = SequenceOrdering(
            gap_timeout=gap_timeout, max_held_per_job=max_held_per_job, max_held=max_held, max_jobs=max_jobs
        )
        self._background = background
        self._clock = clock
        self._lock = threading.RLock()  # one event handed over at a time: that is what keeps the order
        self._timer: threading.Timer | None = None

    @property
    def held_count(self) -> int:
        """Events taken but not handed over yet (waiting for a gap to fill)."""
        return self._ordering.held_count

    def receive(self, headers: Mapping[str, str], body: bytes) -> Outcome:
        """Handle one request (its headers in any case, its raw body): answer with `.status`."""
        try:
            self._verifier.verify(headers, body)
            event = _parse_event(_header(headers, ID_HEADER), body)
        except InvalidWebhook as invalid:
            return Outcome(Verdict.INVALID, int(invalid.status), invalid.reason)
        with self._lock:
            # Under the lock: a duplicate arriving while its twin's handler runs waits for the verdict.
            if not self._seen.add(event.webhook_id):
                return _outcome(Verdict.DUPLICATE, "already received", event)
            released = self._hand_over_all(self._ordering.given_up(self._clock()))
            arrival = self._ordering.arrive(event, self._clock(), expect_every_sequence=event.every_sequence_sent)
            if arrival is Arrival.LATE:
                if self._on_late is not None:
                    self._call(self._on_late, event)
                return _outcome(Verdict.LATE, "a later event of the job was handed over", event, released)
            if arrival is Arrival.HELD:
                released += self._hand_over_all(self._ordering.given_up(self._clock()))
                self._schedule_timer()
                if event in released:  # a bound let it through at once
                    return _outcome(Verdict.HANDED_OVER, "", event, released)
                return _outcome(Verdict.HELD, "waiting for earlier events of the job", event, released)
            try:
                self._handler(event)
            except Exception:
                self._seen.discard(event.webhook_id)  # not handled: the sender's retry must be taken
                logger.exception("webhook handler failed on %s; answered 500: it is sent again", event.webhook_id)
                return _outcome(Verdict.HANDLER_FAILED, "the handler failed", event, released)
            released += (event, *self._hand_over_all(self._ordering.handed(event)))
            return _outcome(Verdict.HANDED_OVER, "", event, released)

    def release_overdue(self) -> tuple[WebhookEvent, ...]:
        """Hand over the held events whose wait ran out (or that a bound no longer allows)."""
        with self._lock:
            return self._hand_over_all(self._ordering.given_up(self._clock()))

    def release(self, job_id: str | None = None) -> tuple[WebhookEvent, ...]:
        """Give up waiting: hand over one job's (or every job's) held events in order now."""
        with self._lock:
            return self._hand_over_all(self._ordering.release(job_id))

    def close(self) -> None:
        """Stop the background timer (held events stay held; `release()` hands them over)."""
        with self._lock:
            self._background = False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    # -- WSGI and ASGI: thin shells around `receive` --------------------------------------------

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """A WSGI application taking webhooks on any path (POST only)."""
        if environ.get("REQUEST_METHOD") != "POST":
            return _wsgi_answer(start_response, 405, "webhooks are POSTed", [("Allow", "POST")])
        body = _read_wsgi_body(environ)
        if body is None:
            return _wsgi_answer(start_response, 413, "body too large")
        headers = {name[5:].replace("_", "-").lower(): value for name, value in environ.items() if name[:5] == "HTTP_"}
        outcome = self.receive(headers, body)
        return _wsgi_answer(start_response, outcome.status, outcome.reason)

    def wsgi_middleware(self, app: WSGIApplication, path: str) -> WSGIApplication:
        """`app` with this receiver on `path` (exactly); every other request goes to `app`.

        Flask: `flask_app.wsgi_app = receiver.wsgi_middleware(flask_app.wsgi_app, "/jobgate")`.
        """

        def middleware(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == path:
                return self.wsgi_app(environ, start_response)
            return app(environ, start_response)

        return middleware

    async def asgi_app(self, scope: dict[str, Any], receive: AsgiReceive, send: AsgiSend) -> None:
        """An ASGI application taking webhooks on any path (POST only).

        FastAPI or Starlette: `fastapi_app.mount("/jobgate", receiver.asgi_app)`.
        """
        if scope["type"] == "lifespan":
            await _asgi_lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"jobgate's webhook receiver speaks HTTP, not {scope['type']}")
        if scope["method"] != "POST":
            await _asgi_answer(send, 405, "webhooks are POSTed", [(b"allow", b"POST")])
            return
        body = await _read_asgi_body(receive)
        if body is None:
            await _asgi_answer(send, 413, "body too large")
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        # In a worker thread: the handler is plain code, and it must not block the event loop.
        outcome = await asyncio.to_thread(self.receive, headers, body)
        await _asgi_answer(send, outcome.status, outcome.reason)

    # -- internals -----------------------------------------------------------------------------

    def _hand_over_all(self, events: list[WebhookEvent]) -> tuple[WebhookEvent, ...]:
        # These were answered 2xx when they were held: they cannot be refused any more, so a
        # handler error goes to on_error and the job's order moves on.
        for event in events:
            self._call(self._handler, event)
        return tuple(events)

    def _call(self, handler: Handler, event: WebhookEvent) -> None:
        try:
            handler(event)
        except Exception as error:  # noqa: BLE001 - a user's handler may raise anything; on_error reports it
            self._on_error(event, error)

    def _schedule_timer(self) -> None:
        deadline = self._ordering.next_deadline()
        if not self._background or deadline is None or self._timer is not None:
            return
        self._timer = threading.Timer(max(0.0, deadline - self._clock()), self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            self._hand_over_all(self._ordering.given_up(self._clock()))
            self._schedule_timer()


def _outcome(verdict: Verdict, reason: str, event: WebhookEvent, handed_over: tuple[WebhookEvent, ...] = ()) -> Outcome:
    return Outcome(verdict, int(STATUS[verdict]), reason, event, handed_over)


def _log_handler_error(event: WebhookEvent, error: Exception) -> None:
    logger.error("webhook handler failed on %s (already answered 2xx)", event.webhook_id, exc_info=error)


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((value for key, value in headers.items() if key.lower() == name), "")


def _parse_event(webhook_id: str, body: bytes) -> WebhookEvent:
    """A verified body that is not a jobgate event is a sender's mistake: 400."""
    try:
        parsed = json.loads(body)
        job = parsed["data"]["job"]
        valid = isinstance(parsed["sequence"], int) and isinstance(parsed["type"], str) and isinstance(job["id"], str)
    except (ValueError, TypeError, KeyError):
        valid = False
    if not valid:
        raise InvalidWebhook(HTTPStatus.BAD_REQUEST, "not a jobgate event (sequence, type, data.job.id)")
    return WebhookEvent(webhook_id, parsed)


def _wsgi_answer(
    start_response: StartResponse, status: int, reason: str, extra: Sequence[tuple[str, str]] = ()
) -> list[bytes]:
    body = b"" if status == 204 else reason.encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *extra],
    )
    return [body]


def _read_wsgi_body(environ: WSGIEnvironment) -> bytes | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if length > MAX_BODY_BYTES:
        return None
    stream = environ["wsgi.input"]
    body: bytes = stream.read(length) if length >= 0 else stream.read(MAX_BODY_BYTES + 1)
    return None if len(body) > MAX_BODY_BYTES else body


async def _read_asgi_body(receive: AsgiReceive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _asgi_answer(send: AsgiSend, status: int, reason: str, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = b"" if status == 204 else reason.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _asgi_lifespan(receive: AsgiReceive, send: AsgiSend) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
