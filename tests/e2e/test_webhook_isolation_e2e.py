"""One slow receiver delays nobody else's webhooks: neither first attempts nor retries nor redeliveries.

While one receiver holds every request and another trickles bytes forever, the healthy
receivers' deliveries arrive, each while the slow attempts are still held (none of them is
recorded yet: an attempt is recorded when it ends). Then the slow ones are cut off at the
attempt timeout. A receiver that hangs at its first attempt holds up no job whose events come
later in the stream: they arrive before any attempt to it has run to the attempt timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import Client, eventually, start_local_stack
from tests.e2e.receivers import Receiver, running, trickling

# Long enough that the whole test's healthy deliveries fit into one slow attempt on a busy machine.
ATTEMPT_TIMEOUT_SECONDS = 30
# More than the default 3 s, so that no healthy receiver's first attempt is cut off on a busy
# machine (it would arrive twice), and still far less than an attempt.
FIRST_ATTEMPT_TIMEOUT_SECONDS = 6
TRICKLED_ANSWER = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 4000


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    stack = start_local_stack(
        parameter_overrides={
            "WebhookRetrySchedule": "1",
            "WebhookAttemptTimeoutSeconds": str(ATTEMPT_TIMEOUT_SECONDS),
            "WebhookFirstAttemptTimeoutSeconds": str(FIRST_ATTEMPT_TIMEOUT_SECONDS),
        }
    )
    yield stack
    stack.stop()


def succeeded_event(client: Client, job_id: str) -> int:
    events = client.request("GET", f"/jobs/{job_id}/events").json()["items"]
    sequence: int = next(e["sequence"] for e in events if e["type"] == "job.succeeded")
    return sequence


def redeliver(client: Client, job_id: str) -> None:
    sequence = succeeded_event(client, job_id)
    response = client.request("POST", f"/jobs/{job_id}/deliveries/{sequence}/redeliver")
    assert response.status_code == 202, response.text


def attempts(client: Client, job_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.request("GET", f"/jobs/{job_id}/deliveries").json()["items"]
    return items


def submit(client: Client, url: str, *, wait: bool = True) -> str:
    job = client.submit({"steps": 1, "stepSeconds": 0}, callback={"url": url, "events": ["job.succeeded"]})
    if wait:
        client.wait_until_terminal(job["id"])
    job_id: str = job["id"]
    return job_id


def test_a_hanging_and_a_trickling_receiver_delay_no_other_delivery(client: Client) -> None:
    # The slow receivers refuse their first attempt at once (so the stream moves on) and hold
    # every later one: their retries are held in the retry function.
    with (
        running(Receiver(hang=True, refuse_first=1)) as hanging,
        trickling(b"", TRICKLED_ANSWER, interval=1.0, refuse_first=1) as trickler,
        running(Receiver()) as healthy,
        running(Receiver(refuse_first=2)) as flaky,
    ):
        healthy_job = submit(client, healthy.url)
        eventually(lambda: healthy.events_of(healthy_job), lambda found: len(found) == 1)

        slow_jobs = [submit(client, hanging.url), submit(client, trickler.url)]

        def held() -> tuple[int, int]:
            return hanging.begun, trickler.connections

        eventually(held, lambda counts: counts == (2, 2))  # refused, then retried and held

        # Meanwhile: a redelivery to a healthy receiver, and new jobs whose first attempt is
        # refused, so that their events arrive through the retry queue.
        redeliver(client, healthy_job)
        retried_jobs = [submit(client, flaky.url), submit(client, flaky.url)]
        eventually(lambda: healthy.events_of(healthy_job), lambda found: len(found) == 2)
        for job_id in retried_jobs:
            eventually(partial(flaky.events_of, job_id), lambda found: len(found) == 1)
        assert flaky.refused == 2
        assert [a["outcome"] for job_id in retried_jobs for a in attempts(client, job_id)] == [
            "retrying",
            "delivered",
        ] * 2

        # All of that arrived while both slow retries were still held: only the refused first
        # attempts are recorded (an attempt is recorded when it ends).
        assert [[a["attempt"] for a in attempts(client, job_id)] for job_id in slow_jobs] == [[1], [1]]
        assert held() == (2, 2)
        assert hanging.received == []

        # The slow retries end at the attempt timeout, the trickling one as well.
        for job_id in slow_jobs:
            ended = eventually(
                partial(attempts, client, job_id),
                lambda found: len(found) == 2,
                timeout=3 * ATTEMPT_TIMEOUT_SECONDS,
            )
            assert ended[1]["outcome"] == "failed"
            assert ended[1]["error"] == f"timed out: no complete answer within {ATTEMPT_TIMEOUT_SECONDS} s"
        assert trickler.was_cut_off.wait(timeout=10)


def test_a_receiver_hanging_at_its_first_attempt_delays_no_later_jobs_webhooks(client: Client) -> None:
    with running(Receiver(hang=True)) as hanging, running(Receiver()) as healthy:
        stuck_job = submit(client, hanging.url, wait=False)
        # Its first attempt is held: the dispatcher's batch waits for it. Every event submitted
        # from now on is in a later batch of the stream.
        eventually(lambda: hanging.begun, lambda begun: begun == 1)
        later_jobs = [submit(client, healthy.url, wait=False) for _ in range(3)]
        for job_id in later_jobs:
            eventually(
                partial(healthy.events_of, job_id), lambda found: len(found) == 1, timeout=3 * ATTEMPT_TIMEOUT_SECONDS
            )

        # They arrived before any attempt to the hanging receiver ran to the attempt timeout: the
        # first one was cut short and handed to the retry queue, whose attempt is still held.
        assert [(a["attempt"], a["outcome"], a["error"]) for a in attempts(client, stuck_job)] == [
            (1, "retrying", f"timed out: no complete answer within {FIRST_ATTEMPT_TIMEOUT_SECONDS} s")
        ]
        assert eventually(lambda: hanging.begun, lambda begun: begun == 2) == 2
        assert hanging.received == []
