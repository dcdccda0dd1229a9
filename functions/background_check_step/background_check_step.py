"""Lambda: the `background-check` job type's bookkeeping steps.

`record-finding` (a vendor answered), `record-no-answer` (it timed out or could not be
reached: inconclusive) and `summarize` (every finding and the overall verdict).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate.jobtypes.background_check import JOB_TYPE, wiring
from jobgate.observability import about_job, instrumented, logger
from jobgate.task_handlers import retried_when_aws_is_busy


@logger.inject_lambda_context
@instrumented
@retried_when_aws_is_busy
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(job_id=event.get("jobId"), action=event.get("action"), vendor=event.get("vendor"))
    about_job(event.get("jobId"), JOB_TYPE.name)
    return wiring.bookkeeping().run(event)
