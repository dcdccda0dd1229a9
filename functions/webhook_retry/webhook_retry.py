"""Lambda (SQS retry queue): webhook retries when due, and redeliveries."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import wiring
from jobgate.observability import logger
from jobgate.webhooks.delivery import RetryMessage


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    service = wiring.webhook_service()

    def retry(record: SQSRecord) -> None:
        service.retry(RetryMessage.model_validate_json(record.body))

    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=retry, processor=processor, context=context)
