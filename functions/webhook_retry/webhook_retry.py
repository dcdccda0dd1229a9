"""Lambda (SQS retry queue): webhook retries when due, and redeliveries.

The batch's messages are attempted concurrently, so a hanging receiver delays no other
message; a message not started while the invocation could still finish its attempt is
handed back as a batch item failure, and SQS delivers it again.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import wiring
from jobgate.observability import instrumented, logger
from jobgate.webhooks.batches import ConcurrentBatchProcessor
from jobgate.webhooks.delivery import RetryMessage

# The event source's BatchSize (template.yaml): every message of a batch at once.
MAX_CONCURRENT_ATTEMPTS = 10


@logger.inject_lambda_context
@instrumented
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    service = wiring.webhook_service()

    def retry(record: SQSRecord) -> None:
        service.retry(RetryMessage.model_validate_json(record.body))

    processor = ConcurrentBatchProcessor(
        EventType.SQS, max_concurrent=MAX_CONCURRENT_ATTEMPTS, reserve_seconds=service.longest_attempt_seconds
    )
    return process_partial_response(event=event, record_handler=retry, processor=processor, context=context)
