"""Lambda: the `background-check` job type's bookkeeping steps.

`record-finding` (a vendor answered), `record-no-answer` (it timed out or could not be
reached: inconclusive) and `summarize` (every finding and the overall verdict).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import wiring
from jobgate.background_check.workflow import (
    RecordFindingRequest,
    RecordNoAnswerRequest,
    SummarizeRequest,
    record_finding,
    record_no_answer,
    summarize,
)
from jobgate.observability import logger


class UnknownAction(ValueError):
    pass


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    action = event.get("action")
    logger.append_keys(job_id=event.get("jobId"), action=action, vendor=event.get("vendor"))
    match action:
        case "record-finding":
            return record_finding(wiring.job_service(), RecordFindingRequest.model_validate(event))
        case "record-no-answer":
            return record_no_answer(wiring.job_service(), RecordNoAnswerRequest.model_validate(event))
        case "summarize":
            return summarize(SummarizeRequest.model_validate(event))
        case _:
            raise UnknownAction(f"unknown action {action!r}")
