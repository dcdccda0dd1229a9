"""The generic lifecycle task every job state machine calls: start, succeed, fail, cancelled."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jobgate.domain.models import Job, JobError
from jobgate.service import JobService


class WorkflowError(BaseModel):
    """What a Catch puts at ResultPath: Step Functions' {"Error", "Cause"}."""

    error: str = Field(alias="Error")
    cause: str | None = Field(default=None, alias="Cause")


class LifecycleRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    action: Literal["start", "succeed", "fail", "cancelled"]
    job_id: str = Field(alias="jobId")
    result: Any = None
    error: WorkflowError | None = None


def run_lifecycle_action(service: JobService, request: LifecycleRequest) -> dict[str, Any]:
    job: Job | None
    match request.action:
        case "start":
            job = service.start_running(request.job_id)
        case "succeed":
            job = service.complete(request.job_id, request.result)
        case "fail":
            job = service.fail(request.job_id, job_error_from_workflow(service, request))
        case "cancelled":
            job = service.confirm_cancelled(request.job_id)
    # A refused change (the job already ended) is not an error for the workflow: report it.
    return {"jobId": request.job_id, "accepted": job is not None, "status": job.status.value if job else None}


def job_error_from_workflow(service: JobService, request: LifecycleRequest) -> JobError:
    workflow_error = request.error or WorkflowError(Error="UnknownError")
    step = _running_step_name(service, request.job_id)
    return JobError(
        type=workflow_error.error,
        title=f"Step {step} failed." if step else "The job failed.",
        detail=_readable_cause(workflow_error.cause),
        step=step,
    )


def _running_step_name(service: JobService, job_id: str) -> str | None:
    job = service.peek(job_id)
    return job.running_step() if job else None


def _readable_cause(cause: str | None) -> str:
    """Lambda errors arrive as JSON with a stack trace; clients get only the message."""
    if not cause:
        return "No detail was reported."
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:1000]
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])[:1000]
    return cause[:1000]
