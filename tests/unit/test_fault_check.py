"""The fault check's own verdicts (jobgate_cli/local/fault_check.py): a broken timeline is caught."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobgate_cli.local.fault_check import (
    DOWN,
    FLAKY,
    HEALTHY,
    INVARIANTS,
    Report,
    SubmittedJob,
    WebhookReceiver,
    check_events,
    check_webhooks,
    injected_faults,
)


def timeline(*types: str, sequences: list[int] | None = None) -> list[dict[str, Any]]:
    numbers = sequences or list(range(1, len(types) + 1))
    return [{"sequence": n, "type": t} for n, t in zip(numbers, types, strict=True)]


def finished(status: str | None) -> SubmittedJob:
    return SubmittedJob("demo", "job_1", "/healthy", submitted_at=0.0, final={"status": status} if status else None)


def test_a_sound_timeline_breaks_no_invariant() -> None:
    report = Report()
    check_events(report, finished("succeeded"), timeline("job.started", "job.step", "job.succeeded"))
    assert report.ok
    assert report.violations == {name: [] for name in INVARIANTS}


@pytest.mark.parametrize(
    ("status", "events", "sequences", "broken"),
    [
        ("succeeded", ("job.started", "job.succeeded"), [1, 3], "contiguous-sequences"),
        ("succeeded", ("job.started", "job.failed", "job.succeeded"), None, "one-terminal-event"),
        ("failed", ("job.started", "job.succeeded"), None, "one-terminal-event"),
        (None, ("job.started", "job.cancelled"), None, "one-terminal-event"),
    ],
)
def test_a_gap_or_a_wrong_terminal_event_is_a_violation(
    status: str | None, events: tuple[str, ...], sequences: list[int] | None, broken: str
) -> None:
    report = Report()
    check_events(report, finished(status), timeline(*events, sequences=sequences))
    assert not report.ok
    assert [name for name, found in report.violations.items() if found] == [broken]


def test_the_fault_record_is_counted_per_service_and_kind(tmp_path: Path) -> None:
    record = tmp_path / "injected.txt"
    record.write_text("dynamodb.GetItem throttle\ndynamodb.TransactWriteItems throttle\nlambda.local-demo-step crash\n")
    assert injected_faults(record) == {"dynamodb throttle": 2, "lambda crash": 1}
    assert injected_faults(tmp_path / "nothing-injected.txt") == {}


def test_the_receiver_refuses_as_its_path_says_and_keeps_what_it_took() -> None:
    receiver = WebhookReceiver()
    try:
        assert [receiver.answer(DOWN, "job_1.1") for _ in range(2)] == [500, 500]
        assert [receiver.answer(FLAKY, "job_1.2") for _ in range(2)] == [503, 204]
        assert receiver.answer(HEALTHY, "job_1.3") == 204
        assert receiver.delivered() == {"job_1.2", "job_1.3"}
    finally:
        receiver.stop()


class FakeQueues:
    """The two queues the check reads: what the dead-letter queue holds, how much the retry queue holds."""

    def __init__(self, dead: list[str], retrying: int) -> None:
        self._dead = [{"Body": json.dumps({"webhookId": webhook_id})} for webhook_id in dead]
        self._retrying = retrying

    def get_queue_url(self, QueueName: str) -> dict[str, str]:  # noqa: N803 - boto3's naming
        return {"QueueUrl": QueueName}

    def receive_message(self, QueueUrl: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        messages, self._dead = self._dead, []
        return {"Messages": messages}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:  # noqa: N803
        return {"Attributes": {"ApproximateNumberOfMessagesNotVisible": str(self._retrying)}}


class FakeApi:
    def __init__(self, failed: list[str]) -> None:
        self._failed = failed

    def request(self, method: str, path: str, **_: Any) -> Any:
        items = [{"webhookId": webhook_id, "outcome": "failed"} for webhook_id in self._failed]
        return type("Response", (), {"json": lambda self: {"items": items}})()


@pytest.mark.parametrize(
    ("dead", "failed", "retrying", "violations", "still_retrying"),
    [
        (["job_1.2"], ["job_1.2"], 0, 0, 0),  # delivered, or failed and dead-lettered: sound
        (["job_1.2"], [], 0, 1, 0),  # dead-lettered, yet no failed delivery recorded
        ([], [], 0, 1, 0),  # neither, and nothing left in the retry queue: lost
        ([], [], 1, 0, 1),  # neither yet, but a retry is still under way
    ],
)
def test_every_wanted_webhook_is_delivered_or_failed_and_dead_lettered(
    dead: list[str], failed: list[str], retrying: int, violations: int, still_retrying: int
) -> None:
    receiver = WebhookReceiver()
    try:
        receiver.answer(HEALTHY, "job_1.1")
        report = Report()
        job = finished("succeeded")
        events = timeline("job.started", "job.succeeded")
        check_webhooks(
            report, FakeApi(failed), lambda _: FakeQueues(dead, retrying), receiver, [job], {"job_1": events}, 0
        )
    finally:
        receiver.stop()
    assert len(report.violations["webhooks"]) == violations
    assert report.webhooks_retrying == still_retrying
    assert report.webhooks_delivered == 1
