"""Lambda (DynamoDB stream of the jobs table): first delivery attempt of each new job event.

The stream's filter passes only INSERTs of EVENT# items. Jobs are delivered concurrently,
each job's events in sequence order, so a slow receiver holds up nobody else for longer
than one attempt's timeout; failed attempts go to the retry queue. A record whose delivery
could not even be recorded or scheduled is reported as a batch item failure, and so is every
later event of its job (not attempted): the stream retries them, in order.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    FailureResponse,
    SuccessResponse,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import wiring
from jobgate.observability import logger
from jobgate.store.deliveries import StoredEvent, event_from_item

MAX_CONCURRENT_JOBS = 16


class EarlierEventFailed(Exception):
    """An event not attempted because an earlier event of its job failed in this batch."""


class JobOrderedProcessor(BatchProcessor):
    """Powertools' BatchProcessor, with the batch's records grouped by job: up to
    MAX_CONCURRENT_JOBS jobs at once, each job's records one after another in sequence order.
    Once a record fails, the rest of its job fail without running, as Powertools'
    SqsFifoPartialProcessor does for a message group."""

    def __init__(self) -> None:
        super().__init__(event_type=EventType.DynamoDBStreams)

    def process(self) -> list[tuple[Any, ...]]:
        by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in self.records:
            by_job[stored_event(record).job_id].append(record)
        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_JOBS) as pool:
            return [result for job in pool.map(self._process_job, by_job.values()) for result in job]

    def _process_job(self, records: list[dict[str, Any]]) -> list[SuccessResponse | FailureResponse]:
        results: list[SuccessResponse | FailureResponse] = []
        for record in sorted(records, key=lambda r: stored_event(r).sequence):
            if results and results[-1][0] == "fail":
                skipped = EarlierEventFailed("an earlier event of this job failed; the stream retries both")
                batch_record = self._to_batch_type(record=record, event_type=self.event_type)
                results.append(self.failure_handler(batch_record, (EarlierEventFailed, skipped, None)))
            else:
                results.append(self._process_record(record))
        return results


def stored_event(record: dict[str, Any]) -> StoredEvent:
    return event_from_item(record["dynamodb"]["NewImage"])


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    service = wiring.webhook_service()

    def first_attempt(record: DynamoDBRecord) -> None:
        job_event = stored_event(record.raw_event)
        try:
            service.first_attempt(job_event)
        except Exception:
            logger.exception("could not deliver or schedule", extra={"job_id": job_event.job_id})
            raise  # reported to the stream, which retries the record

    return process_partial_response(
        event=event, record_handler=first_attempt, processor=JobOrderedProcessor(), context=context
    )
