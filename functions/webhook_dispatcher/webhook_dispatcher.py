"""Lambda (DynamoDB stream of the jobs table): first delivery attempt of each new job event.

The stream's filter passes only INSERTs of EVENT# items. Jobs are delivered concurrently,
each job's events in sequence order, so a slow receiver holds up no other job of the batch,
and the next batch of the shard for at most the short first-attempt timeout (a receiver that
has not answered by then gets its job's events from the retry queue); failed attempts go to
the retry queue. A record whose delivery could not even be recorded or
scheduled is reported as a batch item failure, and so is every later event of its job (not
attempted), and every record not started while the invocation could still finish it: the
stream retries them, in order.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import wiring
from jobgate.observability import instrumented, logger
from jobgate.store.deliveries import StoredEvent, event_from_item
from jobgate.webhooks.batches import ConcurrentBatchProcessor

MAX_CONCURRENT_JOBS = 16


def job_ordered_processor(reserve_seconds: float) -> ConcurrentBatchProcessor:
    """Up to MAX_CONCURRENT_JOBS jobs at once, each job's records in sequence order."""
    return ConcurrentBatchProcessor(
        EventType.DynamoDBStreams,
        max_concurrent=MAX_CONCURRENT_JOBS,
        reserve_seconds=reserve_seconds,
        group_of=lambda record: stored_event(record).job_id,
        order_of=lambda record: stored_event(record).sequence,
    )


def stored_event(record: dict[str, Any]) -> StoredEvent:
    return event_from_item(record["dynamodb"]["NewImage"])


@logger.inject_lambda_context
@instrumented
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
        event=event,
        record_handler=first_attempt,
        processor=job_ordered_processor(service.longest_first_attempt_seconds),
        context=context,
    )
