"""Lambda: one chunk of a `bulk-import` pass (see jobgate.jobtypes.bulk_import.chunk)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate.jobtypes.bulk_import import JOB_TYPE, wiring
from jobgate.jobtypes.bulk_import.chunk import ChunkRequest, run_chunk
from jobgate.observability import about_job, instrumented, logger
from jobgate.task_handlers import retried_when_aws_is_busy


@logger.inject_lambda_context
@instrumented
@retried_when_aws_is_busy
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ChunkRequest.model_validate(event)
    logger.append_keys(job_id=request.job_id, chunk=request.chunk.index, import_pass=request.pass_name)
    about_job(request.job_id, JOB_TYPE.name)
    summary = run_chunk(wiring.import_deps(), request)
    return summary.model_dump(mode="json", by_alias=True)
