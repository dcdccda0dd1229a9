"""Lambda (DynamoDB stream of the jobs table): a job that expires takes its objects with it.

The stream's filter passes only DynamoDB's own TTL deletes of job items (REMOVE by the
dynamodb.amazonaws.com service); each removes everything the job left in the artifacts
bucket: its result and any file of its job type. A record whose objects could not be
deleted is reported as a batch item failure, and the stream retries it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import wiring
from jobgate.observability import instrumented, logger
from jobgate.store.jobs import job_owner


@logger.inject_lambda_context
@instrumented
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    results = wiring.result_store()

    def forget(record: DynamoDBRecord) -> None:
        tenant_id, job_id = job_owner(record.raw_event["dynamodb"]["OldImage"])
        deleted = results.delete_job_objects(tenant_id, job_id)
        logger.info("expired job's objects deleted", extra={"job_id": job_id, "objects": deleted})

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    return process_partial_response(event=event, record_handler=forget, processor=processor, context=context)
