"""The dispatcher's batch processing: jobs side by side, each job's events in order, failures reported."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

import webhook_dispatcher
from jobgate.store import keys
from tests.conftest import load_event
from webhook_dispatcher import job_ordered_processor, stored_event

SAMPLE: dict[str, Any] = load_event("webhook_dispatcher_new_event.json")["Records"][0]


def stream_record(job_id: str, sequence: int) -> dict[str, Any]:
    """The sample stream record, made an event `sequence` of job `job_id`."""
    made = copy.deepcopy(SAMPLE)
    image = made["dynamodb"]["NewImage"]
    image["pk"]["S"] = keys.job_partition(job_id)
    image["sk"]["S"] = keys.event_sort_key(sequence)
    image["sequence"]["N"] = str(sequence)
    made["dynamodb"]["Keys"] = {"pk": image["pk"], "sk": image["sk"]}
    made["dynamodb"]["SequenceNumber"] = f"{job_id}-{sequence}"
    return made


def process(records: list[dict[str, Any]], handle: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event={"Records": records}, record_handler=handle, processor=job_ordered_processor(0)
    )


def failed(response: PartialItemFailureResponse) -> set[str]:
    return {str(f["itemIdentifier"]) for f in response["batchItemFailures"]}


def test_each_jobs_events_are_handled_in_sequence_order() -> None:
    handled: list[tuple[str, int]] = []
    lock = threading.Lock()

    def handle(record: DynamoDBRecord) -> None:
        event = stored_event(record.raw_event)
        with lock:
            handled.append((event.job_id, event.sequence))

    response = process(
        [
            stream_record("a", 3),
            stream_record("b", 2),
            stream_record("a", 1),
            stream_record("a", 2),
            stream_record("b", 1),
        ],
        handle,
    )
    assert failed(response) == set()
    assert [s for job, s in handled if job == "a"] == [1, 2, 3]
    assert [s for job, s in handled if job == "b"] == [1, 2]


def test_jobs_are_handled_side_by_side() -> None:
    both_running = threading.Barrier(2, timeout=5)

    def handle(record: DynamoDBRecord) -> None:
        both_running.wait()  # breaks (and fails the record) unless the other job runs meanwhile

    assert failed(process([stream_record("a", 1), stream_record("b", 1)], handle)) == set()


def test_no_more_jobs_than_the_bound_run_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_dispatcher, "MAX_CONCURRENT_JOBS", 2)
    running, most = 0, 0
    lock = threading.Lock()

    def handle(record: DynamoDBRecord) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    assert failed(process([stream_record(job, 1) for job in "abcdef"], handle)) == set()
    assert most == 2


def test_what_follows_a_failed_event_of_its_job_fails_unattempted() -> None:
    attempted: list[tuple[str, int]] = []

    def handle(record: DynamoDBRecord) -> None:
        event = stored_event(record.raw_event)
        attempted.append((event.job_id, event.sequence))
        if (event.job_id, event.sequence) == ("a", 2):
            raise RuntimeError("could not schedule the retry")

    response = process(
        [
            stream_record("a", 1),
            stream_record("a", 2),
            stream_record("a", 3),
            stream_record("b", 1),
            stream_record("b", 2),
        ],
        handle,
    )
    assert failed(response) == {"a-2", "a-3"}
    assert ("a", 3) not in attempted
    assert {("b", 1), ("b", 2)} <= set(attempted)
