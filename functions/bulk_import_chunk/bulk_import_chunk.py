"""Lambda: one chunk of a `bulk-import` pass (see jobgate.bulk_import.chunk)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import aws, wiring
from jobgate.bulk_import.chunk import ChunkDeps, ChunkRequest, process_chunk
from jobgate.bulk_import.objects import Upload
from jobgate.bulk_import.progress import ForwardProgress
from jobgate.bulk_import.settings import BulkImportSettings
from jobgate.bulk_import.store import RecordTable
from jobgate.config import Settings
from jobgate.observability import logger
from jobgate.store.jobs import JobStore


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ChunkRequest.model_validate(event)
    logger.append_keys(job_id=request.job_id, chunk=request.chunk.index, import_pass=request.pass_name)
    settings = Settings.from_environment()
    service = wiring.job_service(settings)
    deps = ChunkDeps(
        service=service,
        records=RecordTable(aws.dynamodb(), BulkImportSettings.from_environment().imported_records_table_name),
        progress=ForwardProgress(JobStore(aws.dynamodb(), settings.jobs_table_name)),
        s3=aws.s3(),
        bucket=settings.artifacts_bucket_name,
    )
    tenant_id = service.require_active(request.job_id).tenant_id
    upload = Upload(aws.s3(), settings.artifacts_bucket_name, tenant_id, request.input.upload)
    summary = process_chunk(deps, upload, request)
    return summary.model_dump(mode="json", by_alias=True)
