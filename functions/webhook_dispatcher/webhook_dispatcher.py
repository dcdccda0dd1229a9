"""Lambda (DynamoDB stream of the jobs table): first delivery attempt of each new job event.

The stream's filter passes only INSERTs of EVENT# items. Jobs are delivered concurrently,
each job's events in sequence order, so a slow receiver holds up nobody else for longer
than one attempt's timeout; failed attempts go to the retry queue. A record whose delivery
could not even be recorded or scheduled is reported as a batch item failure and retried.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import wiring
from jobgate.observability import logger
from jobgate.store.deliveries import StoredEvent, event_from_item
from jobgate.webhooks.delivery import WebhookService

MAX_CONCURRENT_JOBS = 16


def deliver_batch(service: WebhookService, events: list[StoredEvent]) -> set[tuple[str, int]]:
    """Deliver every event; the (job, sequence) pairs that could not be handled."""
    by_job: dict[str, list[StoredEvent]] = defaultdict(list)
    for event in events:
        by_job[event.job_id].append(event)

    def deliver_in_order(job_events: list[StoredEvent]) -> set[tuple[str, int]]:
        failed: set[tuple[str, int]] = set()
        for event in sorted(job_events, key=lambda e: e.sequence):
            if failed:  # keep the job's order: what follows a failure is retried with it
                failed.add((event.job_id, event.sequence))
                continue
            try:
                service.first_attempt(event)
            except Exception:  # noqa: BLE001 - reported to the stream, which retries the record
                logger.exception("could not deliver or schedule", extra={"job_id": event.job_id})
                failed.add((event.job_id, event.sequence))
        return failed

    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_JOBS) as pool:
        return set().union(*pool.map(deliver_in_order, by_job.values()))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    service = wiring.webhook_service()
    by_record = {r["eventID"]: event_from_item(r["dynamodb"]["NewImage"]) for r in event.get("Records", [])}
    failed = deliver_batch(service, list(by_record.values()))
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    def fail_if_undelivered(record: DynamoDBRecord) -> None:
        item = by_record[record.event_id]
        if (item.job_id, item.sequence) in failed:
            raise RuntimeError(f"delivery of {item.job_id} #{item.sequence} not handled; the stream retries it")

    return process_partial_response(
        event=event, record_handler=fail_if_undelivered, processor=processor, context=context
    )
