"""Lambda: check / finish / rollback of the `bulk-import` job type (see jobgate.jobtypes.bulk_import.finish)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate.jobtypes.bulk_import import JOB_TYPE, wiring
from jobgate.jobtypes.bulk_import.finish import FinishRequest, run_finish
from jobgate.observability import about_job, instrumented, logger
from jobgate.task_handlers import retried_when_aws_is_busy


@logger.inject_lambda_context
@instrumented
@retried_when_aws_is_busy
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = FinishRequest.model_validate(event)
    logger.append_keys(job_id=request.job_id, action=request.action)
    about_job(request.job_id, JOB_TYPE.name)
    return run_finish(wiring.import_deps(), request)
