"""The generic lifecycle task every job state machine calls: start, succeed, fail, cancelled."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from jobgate.domain.models import Job, JobError
from jobgate.domain.workflow_errors import WorkflowError, readable_cause
from jobgate.lazy import LazyModel
from jobgate.service import JobService


class LifecycleRequest(LazyModel):
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
    workflow_error = request.error or WorkflowError(error="UnknownError")
    step = _running_step_name(service, request.job_id)
    return JobError(
        type=workflow_error.error,
        title=f"Step {step} failed." if step else "The job failed.",
        detail=readable_cause(workflow_error.cause, if_missing="No detail was reported."),
        step=step,
    )


def _running_step_name(service: JobService, job_id: str) -> str | None:
    job = service.peek(job_id)
    return job.running_step() if job else None
