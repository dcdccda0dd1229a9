"""Lambda: the order-fulfillment saga's stock tasks (reserve-inventory, confirm-order, release-stock)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate.jobtypes.order_fulfillment import JOB_TYPE, wiring
from jobgate.jobtypes.order_fulfillment.workflow import SagaTask
from jobgate.observability import about_job, instrumented, logger
from jobgate.task_handlers import retried_when_aws_is_busy


@logger.inject_lambda_context
@instrumented
@retried_when_aws_is_busy
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = SagaTask.model_validate(event)
    logger.append_keys(job_id=task.saga.job_id, action=task.action)
    about_job(task.saga.job_id, JOB_TYPE.name)
    return wiring.inventory_steps().run(task)
