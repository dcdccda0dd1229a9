"""Lambda: ask one vendor to check the candidate (the `background-check` job type).

Invoked by a `.waitForTaskToken` task: it keeps the task token under a callback id and
returns at once; the workflow waits until the vendor's signed callback resumes it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate.jobtypes.background_check import JOB_TYPE, wiring
from jobgate.jobtypes.background_check.workflow import StartVendorCheckRequest
from jobgate.observability import about_job, instrumented, logger
from jobgate.task_handlers import retried_when_aws_is_busy


@logger.inject_lambda_context
@instrumented
@retried_when_aws_is_busy
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = StartVendorCheckRequest.model_validate(event)
    logger.append_keys(job_id=request.job_id, vendor=request.vendor.value)
    about_job(request.job_id, JOB_TYPE.name)
    return wiring.vendor_requests().start(request)
