"""Lambda: one step of the `demo` job type (see jobgate.jobtypes.demo)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate.jobtypes.demo import JOB_TYPE, wiring
from jobgate.jobtypes.demo.models import DemoStepRequest
from jobgate.observability import about_job, instrumented, logger
from jobgate.task_handlers import retried_when_aws_is_busy


@logger.inject_lambda_context
@instrumented
@retried_when_aws_is_busy
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = DemoStepRequest.model_validate(event)
    logger.append_keys(job_id=request.job_id, step_index=request.step_index)
    about_job(request.job_id, JOB_TYPE.name)
    return wiring.demo_steps().run(request)
