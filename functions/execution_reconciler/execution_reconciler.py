"""Lambda: on every ended job execution (EventBridge), make sure its job ended too.

A timeout, an abort or a crash never runs the state machine's own failure path, so
without this a job would stay `running` forever.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import wiring
from jobgate.observability import about_job, instrumented, logger, signals


@logger.inject_lambda_context
@instrumented
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    detail = event.detail
    job_id = str(detail["name"])
    status = str(detail["status"])
    logger.append_keys(job_id=job_id, execution_status=status)
    about_job(job_id)
    job = wiring.job_service().reconcile_execution(job_id, status, detail.get("cause"))
    if job is not None:
        signals.reconciler_repaired()
    outcome = {"jobId": job_id, "reconciled": job is not None, "status": job.status.value if job else None}
    logger.info("execution ended", extra=outcome)
    return outcome
