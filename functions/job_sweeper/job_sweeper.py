"""Lambda: once a minute (EventBridge schedule), finish what a lost start or event left undone.

A job queued without an execution is started (or failed past its bound); a job whose
execution has ended without the job ending is reconciled (jobgate/sweeper.py).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import wiring
from jobgate.observability import instrumented, logger


@logger.inject_lambda_context
@instrumented
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = wiring.job_sweeper().sweep(lambda: context.get_remaining_time_in_millis() / 1000)
    logger.info(
        "swept",
        extra={
            "started": len(report.started),
            "failed": len(report.failed),
            "reconciled": len(report.reconciled),
            "recovered": len(report.recovered),
            "errors": len(report.errors),
            "unfinished": report.unfinished,
        },
    )
    return asdict(report)
