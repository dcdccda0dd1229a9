"""Lambda: the lifecycle task of every job state machine (start, succeed, fail, cancelled)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import wiring
from jobgate.lifecycle import LifecycleRequest, run_lifecycle_action
from jobgate.observability import about_job, instrumented, logger
from jobgate.task_handlers import retried_when_aws_is_busy


@logger.inject_lambda_context
@instrumented
@retried_when_aws_is_busy
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = LifecycleRequest.model_validate(event)
    logger.append_keys(job_id=request.job_id, action=request.action)
    about_job(request.job_id)
    outcome = run_lifecycle_action(wiring.job_service(), request)
    logger.info("lifecycle action applied", extra=outcome)
    return outcome
