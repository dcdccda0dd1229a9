"""Delivering job events to callbacks: first attempts, retries on the schedule, redeliveries.

Every attempt is signed afresh (Standard Webhooks), goes only to an address the SSRF rules
allow (resolved once, connected to directly), and is recorded. A failed attempt is handed to
the retry queue with the next delay of the schedule, so no caller ever waits on a slow
receiver longer than one attempt's timeout; after the last one the delivery is `failed` and
dead-lettered, and `redeliver` can send it again with the same webhook-id.

The first attempt (the stream's) waits only the shorter first-attempt timeout: its stream shard
waits with it. A receiver that has not answered by then gets the event from the retry queue at
once, with the full attempt timeout, and so do its job's later events of the same batch,
unattempted, so that one hanging receiver holds the shard for one short timeout per batch.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field

from jobgate.config import Settings
from jobgate.domain.errors import DeliveryNotPossible
from jobgate.domain.tenants import Tenant
from jobgate.lazy import LazyModel
from jobgate.observability import signals
from jobgate.store.deliveries import DeliveryAttempt, DeliveryStore, StoredEvent
from jobgate.store.tenants import TenantStore
from jobgate.timeutil import to_rfc3339
from jobgate.webhooks import ssrf
from jobgate.webhooks.schedule import parse_retry_after, retry_delay
from jobgate.webhooks.signing import webhook_headers, webhook_id
from jobgate.webhooks.subscriptions import wants

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

RESPONSE_BODY_LIMIT = 1024
MAX_SQS_DELAY_SECONDS = 900  # SQS caps DelaySeconds at 15 minutes: longer waits hop.
# What an attempt may take after its exchange: recording it, scheduling its retry.
RECORDING_SECONDS = 5.0


class RetryMessage(LazyModel):
    """What the retry queue carries: which event, which attempt, and when it is due."""

    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="jobId")
    sequence: int
    attempt: int
    # Position in the retry schedule (a redelivery starts the schedule again).
    round: int
    due_at: float = Field(alias="dueAt")


@dataclass(frozen=True)
class AttemptResponse:
    status_code: int | None
    body: str | None
    retry_after: float | None
    error: str | None
    latency_ms: int
    timed_out: bool = False


Sender = Callable[[str, bytes, dict[str, str], Settings, float], AttemptResponse]


def send_over_http(
    url: str, body: bytes, headers: dict[str, str], settings: Settings, timeout_seconds: float
) -> AttemptResponse:
    """One POST to the callback, to an address the SSRF rules allow; never raises.

    The whole exchange, the answer's first KiB included, must end within `timeout_seconds`:
    a receiver that never answers and one that trickles bytes are both cut off then.
    """
    # Imported here: only the webhook functions send, and requests costs ~50 ms of a cold
    # start; the API and the tasks import this module for the service and its errors.
    from jobgate.webhooks import pinned_http

    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    deadline = pinned_http.Deadline(timeout_seconds)
    try:
        addresses = ssrf.resolve_callback_url(url, _allow_list(settings))
        response = pinned_http.send_pinned(
            "POST",
            url,
            addresses,
            headers=headers,
            body=body,
            connect_timeout=min(settings.webhook_connect_timeout_seconds, timeout_seconds),
            read_timeout=timeout_seconds,
            deadline=deadline,
        )
        prefix = pinned_http.read_body_prefix(response, RESPONSE_BODY_LIMIT)
    except ssrf.CallbackRefused as refused:
        return AttemptResponse(None, None, None, f"refused: {refused}", elapsed())
    except Exception as error:  # noqa: BLE001 - any transport failure is a failed attempt, recorded
        if not deadline.expired:
            return AttemptResponse(None, None, None, f"{type(error).__name__}: {error}"[:500], elapsed())
    finally:
        deadline.cancel()
    if deadline.expired:
        # Even an answer that parsed: a cut-off looks like the end of the headers or the body.
        timed_out = f"timed out: no complete answer within {timeout_seconds:g} s"
        return AttemptResponse(None, None, None, timed_out, elapsed(), timed_out=True)
    return AttemptResponse(
        status_code=response.status_code,
        body=prefix.decode("utf-8", errors="replace"),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        error=None,
        latency_ms=elapsed(),
    )


def _allow_list(settings: Settings) -> ssrf.AllowList:
    return ssrf.AllowList.parse(settings.webhook_allowed_networks)


class WebhookService:
    def __init__(
        self,
        *,
        settings: Settings,
        deliveries: DeliveryStore,
        tenants: TenantStore,
        sqs: SQSClient,
        send: Sender = send_over_http,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._deliveries = deliveries
        self._tenants = tenants
        self._sqs = sqs
        self._send = send
        self._clock = clock
        self._rng = rng or random.Random()
        self._tenants_seen: dict[str, Tenant | None] = {}
        self._gone_seen: dict[str, bool] = {}
        # Jobs whose receiver did not answer a first attempt in time, in this invocation.
        self._unanswered_jobs: set[str] = set()

    @property
    def longest_attempt_seconds(self) -> float:
        """The most one attempt takes, recorded and rescheduled: start one only with this much time left."""
        return self._settings.webhook_attempt_timeout_seconds + RECORDING_SECONDS

    @property
    def longest_first_attempt_seconds(self) -> float:
        """The same for a first attempt, which waits only the first-attempt timeout."""
        return self._first_attempt_timeout_seconds + RECORDING_SECONDS

    @property
    def _first_attempt_timeout_seconds(self) -> float:
        return min(self._settings.webhook_first_attempt_timeout_seconds, self._settings.webhook_attempt_timeout_seconds)

    def first_attempt(self, event: StoredEvent) -> DeliveryAttempt | None:
        """The stream's new event: deliver it now if its callback wants it (None if not).

        If the receiver left an earlier event of this job unanswered, the event goes straight
        to the retry queue (None): waiting for that receiver again would hold the shard again.
        """
        if not wants(_callback(event), event.event_type):
            return None
        if event.job_id in self._unanswered_jobs:
            self._enqueue(
                RetryMessage(job_id=event.job_id, sequence=event.sequence, attempt=1, round=1, due_at=self._clock())
            )
            return None
        return self._attempt(event, attempt=1, round_=1, timeout_seconds=self._first_attempt_timeout_seconds)

    def retry(self, message: RetryMessage) -> DeliveryAttempt | None:
        """A due (or not yet due: hop again) message of the retry queue."""
        wait = message.due_at - self._clock()
        if wait >= 1:
            self._enqueue(message)
            return None
        event = self._deliveries.event(message.job_id, message.sequence)
        if event is None:  # the job was purged or has expired meanwhile: nothing left to deliver
            return None
        return self._attempt(
            event,
            attempt=message.attempt,
            round_=message.round,
            timeout_seconds=self._settings.webhook_attempt_timeout_seconds,
        )

    def redeliver(self, job_id: str, sequence: int) -> None:
        event = self._deliveries.event(job_id, sequence)
        if event is None:
            raise DeliveryNotPossible("no-event", f"Job {job_id} has no event {sequence}.")
        if not (_callback(event) or {}).get("url"):
            raise DeliveryNotPossible("no-callback", f"Job {job_id} was submitted without a callback URL.")
        previous = [a.attempt for a in self._deliveries.attempts(job_id) if a.sequence == sequence]
        self._enqueue(
            RetryMessage(job_id=job_id, sequence=sequence, attempt=max(previous, default=0) + 1, round=1, due_at=0)
        )

    def attempts(self, job_id: str) -> list[DeliveryAttempt]:
        return sorted(self._deliveries.attempts(job_id), key=lambda a: (a.sequence, a.attempt))

    def _attempt(
        self, event: StoredEvent, *, attempt: int, round_: int, timeout_seconds: float
    ) -> DeliveryAttempt | None:
        callback = _callback(event) or {}
        url = str(callback.get("url", ""))
        if not url or self._is_gone(event.job_id):
            return None
        now = self._clock()
        msg_id = webhook_id(event.job_id, event.sequence)
        tenant = self._tenant(event.tenant_id)
        if tenant is None:  # the tenant was deleted: there is no one to sign for
            return None
        secrets = tenant.signing_secrets(datetime.fromtimestamp(now, UTC))
        body = event.body.encode()
        response = self._send(
            url, body, webhook_headers(secrets, msg_id, int(now), body), self._settings, timeout_seconds
        )
        record = DeliveryAttempt(
            sequence=event.sequence,
            event_type=event.event_type,
            webhook_id=msg_id,
            attempt=attempt,
            attempted_at=to_rfc3339(datetime.fromtimestamp(now, UTC)),
            url=url,
            status_code=response.status_code,
            latency_ms=response.latency_ms,
            response_body=response.body,
            error=response.error or _status_error(response.status_code),
            outcome="delivered",
        )
        delivered = response.status_code is not None and 200 <= response.status_code < 300
        signals.webhook_attempted(
            delivered=delivered,
            latency_ms=(now - _event_time(event)) * 1000 + response.latency_ms if delivered else None,
        )
        if delivered:
            pass
        elif response.status_code == 410:
            record.outcome = "gone"
            self._deliveries.mark_gone(event.job_id, event.ttl)
            self._gone_seen[event.job_id] = True
        else:
            handed_on = response.timed_out and timeout_seconds < self._settings.webhook_attempt_timeout_seconds
            if handed_on:
                # Cut short to free the shard, not failed: the retry queue tries again now, in full.
                self._unanswered_jobs.add(event.job_id)
                delay: float | None = 0.0
                next_round = round_
            else:
                delay = retry_delay(self._settings.webhook_retry_delays, round_, response.retry_after, self._rng)
                next_round = round_ + 1
            if delay is None:
                record.outcome = "failed"
                self._dead_letter(event, record)
            else:
                signals.webhook_retry_scheduled()
                due = now + delay
                record.outcome = "retrying"
                record.next_attempt_at = to_rfc3339(datetime.fromtimestamp(due, UTC))
                self._enqueue(
                    RetryMessage(
                        job_id=event.job_id, sequence=event.sequence, attempt=attempt + 1, round=next_round, due_at=due
                    )
                )
        self._deliveries.record(event.job_id, record, event.ttl)
        return record

    def _tenant(self, tenant_id: str) -> Tenant | None:
        """Read once per service (one invocation), not once per event of the batch."""
        if tenant_id not in self._tenants_seen:
            self._tenants_seen[tenant_id] = self._tenants.get(tenant_id)
        return self._tenants_seen[tenant_id]

    def _is_gone(self, job_id: str) -> bool:
        """Read once per service (one invocation): a job's events in a batch are one thread's, in order."""
        if job_id not in self._gone_seen:
            self._gone_seen[job_id] = self._deliveries.is_gone(job_id)
        return self._gone_seen[job_id]

    def _enqueue(self, message: RetryMessage) -> None:
        wait = max(0, math.ceil(message.due_at - self._clock()))
        self._sqs.send_message(
            QueueUrl=self._settings.webhook_retry_queue_url,
            MessageBody=message.model_dump_json(by_alias=True),
            DelaySeconds=min(wait, MAX_SQS_DELAY_SECONDS),
        )

    def _dead_letter(self, event: StoredEvent, record: DeliveryAttempt) -> None:
        if not self._settings.webhook_dead_letter_queue_url:
            return
        self._sqs.send_message(
            QueueUrl=self._settings.webhook_dead_letter_queue_url,
            MessageBody=json.dumps(
                {
                    "jobId": event.job_id,
                    "sequence": event.sequence,
                    "webhookId": record.webhook_id,
                    "lastAttempt": record.model_dump(by_alias=True),
                }
            ),
        )
        signals.webhook_dead_lettered()


def _callback(event: StoredEvent) -> dict[str, Any] | None:
    job: dict[str, Any] = json.loads(event.body)["data"]["job"]
    callback: dict[str, Any] | None = job.get("callback")
    return callback


def _event_time(event: StoredEvent) -> float:
    """When the event happened (epoch seconds): the body's `timestamp`."""
    return datetime.fromisoformat(json.loads(event.body)["timestamp"]).timestamp()


def _status_error(status_code: int | None) -> str | None:
    if status_code is None or 200 <= status_code < 300:
        return None
    if 300 <= status_code < 400:
        return f"HTTP {status_code}: redirects are not followed"
    return f"HTTP {status_code}"
