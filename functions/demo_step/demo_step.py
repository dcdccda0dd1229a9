"""Lambda: one step of the `demo` job type (see jobgate.jobtypes.demo)."""

from __future__ import annotations

import hashlib
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from jobgate import wiring
from jobgate.domain.models import StepStatus
from jobgate.jobtypes.demo import DemoInput, demo_step_name
from jobgate.observability import logger
from jobgate.service import JobService


class DemoStepFailed(Exception):
    """The step the submitter asked to fail (failAtStep); the state machine catches it by name."""


class DemoStepRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="jobId")
    input: DemoInput
    step_index: int = Field(alias="stepIndex", ge=0)


def run_demo_step(service: JobService, request: DemoStepRequest) -> dict[str, Any]:
    name = demo_step_name(request.step_index)
    service.require_active(request.job_id)
    service.record_step(request.job_id, name, StepStatus.RUNNING)
    if request.input.fail_at_step == request.step_index + 1:
        raise DemoStepFailed(f"{name} failed because the job asked for it (failAtStep).")
    digest = hashlib.sha256(f"{request.job_id}:{name}".encode()).hexdigest()
    service.record_step(request.job_id, name, StepStatus.SUCCEEDED, detail={"digest": digest[:16]})
    next_index = request.step_index + 1
    done = next_index >= request.input.steps
    return {
        "jobId": request.job_id,
        "input": request.input.model_dump(by_alias=True),
        "stepIndex": next_index,
        "done": done,
        "result": _report(request, digest) if done else None,
    }


def _report(request: DemoStepRequest, digest: str) -> dict[str, Any]:
    report: dict[str, Any] = {"steps": request.input.steps, "digest": digest}
    if request.input.result_bytes:
        report["padding"] = "x" * request.input.result_bytes
    return report


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = DemoStepRequest.model_validate(event)
    logger.append_keys(job_id=request.job_id, step_index=request.step_index)
    return run_demo_step(wiring.job_service(), request)
