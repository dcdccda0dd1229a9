"""The webhook functions' batches: records side by side, and handed back when time runs short."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from jobgate.webhooks.batches import ConcurrentBatchProcessor
from tests.conftest import LambdaContext, load_event

SAMPLE: dict[str, Any] = load_event("webhook_retry_due_retry.json")["Records"][0]


def message(message_id: str) -> dict[str, Any]:
    made = copy.deepcopy(SAMPLE)
    made["messageId"] = message_id
    made["body"] = message_id
    return made


def failed(response: PartialItemFailureResponse) -> list[str]:
    return sorted(str(f["itemIdentifier"]) for f in response["batchItemFailures"])


@dataclass
class ShrinkingContext(LambdaContext):
    """An invocation whose remaining time drops by `per_record_ms` with each record handled."""

    start_ms: int = 60_000
    per_record_ms: int = 0
    handled: int = 0

    def get_remaining_time_in_millis(self) -> int:
        return self.start_ms - self.per_record_ms * self.handled


def test_records_that_could_not_finish_in_time_are_handed_back_unstarted() -> None:
    context = ShrinkingContext(start_ms=40_000, per_record_ms=10_000)
    handled: list[str] = []

    def handle(record: SQSRecord) -> None:
        handled.append(record.body)
        context.handled += 1

    processor = ConcurrentBatchProcessor(EventType.SQS, max_concurrent=1, reserve_seconds=20)
    response = process_partial_response(
        event={"Records": [message(name) for name in ("m1", "m2", "m3", "m4")]},
        record_handler=handle,
        processor=processor,
        context=context,  # type: ignore[arg-type]  # the test double has what Powertools reads
    )
    # 40 s left: m1 starts; 30 s: m2; 20 s is no more than one attempt needs: the rest go back.
    assert handled == ["m1", "m2"]
    assert failed(response) == ["m3", "m4"]


def test_a_record_that_hangs_holds_up_none_of_the_others() -> None:
    others_done = threading.Event()
    handled: list[str] = []
    lock = threading.Lock()

    def handle(record: SQSRecord) -> None:
        if record.body == "hanging":
            # Fails (and the test with it) unless every other record is handled meanwhile.
            assert others_done.wait(timeout=10)
            return
        with lock:
            handled.append(record.body)
            if len(handled) == 9:
                others_done.set()

    names = ["hanging", *(f"m{n}" for n in range(9))]
    processor = ConcurrentBatchProcessor(EventType.SQS, max_concurrent=10, reserve_seconds=20)
    response = process_partial_response(
        event={"Records": [message(name) for name in names]},
        record_handler=handle,
        processor=processor,
        context=ShrinkingContext(),  # type: ignore[arg-type]
    )
    assert failed(response) == []
    assert sorted(handled) == sorted(names[1:])
