"""Lambda: PlanChunks of the `bulk-import` job type (see jobgate.bulk_import.plan)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from jobgate import aws, wiring
from jobgate.bulk_import.objects import Upload
from jobgate.bulk_import.plan import plan_chunks
from jobgate.config import Settings
from jobgate.domain.models import StepStatus
from jobgate.jobtypes.bulk_import import BulkImportInput, bulk_import_passes
from jobgate.observability import logger
from jobgate.service import JobService


class PlanRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="jobId")
    input: BulkImportInput


def run_plan(service: JobService, settings: Settings, request: PlanRequest) -> dict[str, Any]:
    job = service.require_active(request.job_id)
    service.record_step(request.job_id, bulk_import_passes(request.input)[0], StepStatus.RUNNING)
    # The key is built from the job's own tenant: an upload id of another tenant finds nothing.
    upload = Upload(aws.s3(), settings.artifacts_bucket_name, job.tenant_id, request.input.upload)
    plan = plan_chunks(upload, request.input.chunk_bytes)
    logger.info("planned", extra={"chunks": len(plan.chunks), "bytes": plan.file.total_bytes})
    return plan.model_dump(mode="json", by_alias=True)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = PlanRequest.model_validate(event)
    logger.append_keys(job_id=request.job_id)
    settings = Settings.from_environment()
    return run_plan(wiring.job_service(settings), settings, request)
