"""Every change a job can undergo, and the pure function that applies one.

`apply_change` either returns the next job (version + 1) and the one event that records
it (sequence + 1), or raises IllegalTransition. The store persists both (JobStore.save_change).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jobgate.domain.errors import IllegalTransition
from jobgate.domain.models import (
    FINISHED_STEP_STATUSES,
    EventType,
    Job,
    JobError,
    JobEvent,
    Progress,
    Step,
    StepStatus,
    latest_event,
)
from jobgate.domain.status import JobStatus, can_transition


@dataclass(frozen=True)
class StartJob:
    pass


@dataclass(frozen=True)
class RecordStep:
    """A step changed status (started, finished, failed an attempt, was compensated)."""

    name: str
    status: StepStatus
    detail: dict[str, Any] | None = None
    message: str | None = None


@dataclass(frozen=True)
class RecordProgress:
    """Progress inside a step; `percent` None means "derive it from the steps"."""

    message: str
    percent: int | None = None


@dataclass(frozen=True)
class SucceedJob:
    message: str = "Completed."


@dataclass(frozen=True)
class FailJob:
    error: JobError


@dataclass(frozen=True)
class RequestCancel:
    pass


@dataclass(frozen=True)
class ConfirmCancel:
    detail: dict[str, Any] = field(default_factory=dict)


JobChange = StartJob | RecordStep | RecordProgress | SucceedJob | FailJob | RequestCancel | ConfirmCancel


@dataclass(frozen=True)
class AppliedChange:
    job: Job
    event: JobEvent


def apply_change(job: Job, change: JobChange, now: datetime) -> AppliedChange:
    target, event_type = _target_of(job, change)
    # Steps and progress keep the status; every other change must move it (a second
    # start or a duplicate cancel is refused rather than recorded twice).
    keeps_status = isinstance(change, RecordStep | RecordProgress)
    if (not keeps_status and target is job.status) or not can_transition(job.status, target):
        raise IllegalTransition(job.id, job.status.value, target.value)

    updated = job.model_copy(deep=True)
    updated.status = target
    updated.version = job.version + 1
    updated.last_sequence = job.last_sequence + 1
    updated.updated_at = now
    _apply_details(updated, change, now)
    if target.is_terminal:
        updated.ended_at = now
        updated.expires_at = now + timedelta(seconds=job.retention_seconds)
        updated.progress.eta = None
    return AppliedChange(job=updated, event=latest_event(updated, event_type))


def _target_of(job: Job, change: JobChange) -> tuple[JobStatus, EventType]:
    match change:
        case StartJob():
            return JobStatus.RUNNING, EventType.STARTED
        # Steps and progress keep the status: refused on a queued job (queued -> queued is
        # not a transition) and on a terminal one.
        case RecordStep():
            return job.status, EventType.STEP
        case RecordProgress():
            return job.status, EventType.PROGRESS
        case SucceedJob():
            return JobStatus.SUCCEEDED, EventType.SUCCEEDED
        case FailJob():
            return JobStatus.FAILED, EventType.FAILED
        case RequestCancel():
            return JobStatus.CANCELLING, EventType.CANCELLING
        case ConfirmCancel():
            return JobStatus.CANCELLED, EventType.CANCELLED


def _apply_details(job: Job, change: JobChange, now: datetime) -> None:
    progress = job.progress
    match change:
        case StartJob():
            job.started_at = now
            progress.message = "Started."
        case RecordStep(name=name, status=status, detail=detail, message=message):
            _record_step(progress, name, status, detail, now)
            progress.message = message or f"{name}: {status.value}."
            progress.percent = _percent_from_steps(progress)
            progress.eta = _estimate_eta(job, now)
        case RecordProgress(message=message, percent=percent):
            progress.message = message
            progress.percent = percent if percent is not None else _percent_from_steps(progress)
            progress.eta = _estimate_eta(job, now)
        case SucceedJob(message=message):
            progress.percent = 100
            progress.message = message
        case FailJob(error=error):
            job.error = error
            progress.message = error.title
            _close_running_steps(progress, StepStatus.FAILED, now, only=error.step)
        case RequestCancel():
            progress.message = "Cancelling."
        case ConfirmCancel(detail=detail):
            progress.message = "Cancelled."
            _close_running_steps(progress, StepStatus.FAILED, now, detail={"reason": "cancelled", **detail})


def _record_step(
    progress: Progress, name: str, status: StepStatus, detail: dict[str, Any] | None, now: datetime
) -> None:
    step = next((s for s in progress.steps if s.name == name), None)
    if step is None:
        step = Step(name=name)
        progress.steps.append(step)
    if status is StepStatus.RUNNING:
        step.attempts += 1
        step.started_at = step.started_at or now
        step.ended_at = None
    if status in FINISHED_STEP_STATUSES:
        step.ended_at = now
    step.status = status
    if detail is not None:
        step.detail = detail


def _close_running_steps(
    progress: Progress,
    status: StepStatus,
    now: datetime,
    only: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    for step in progress.steps:
        if step.status is StepStatus.RUNNING or step.name == only:
            step.status = status
            step.ended_at = now
            if detail is not None:
                step.detail = detail


def _percent_from_steps(progress: Progress) -> int:
    if not progress.steps:
        return progress.percent
    finished = sum(1 for s in progress.steps if s.status in FINISHED_STEP_STATUSES)
    return min(99, (100 * finished) // len(progress.steps))


def _estimate_eta(job: Job, now: datetime) -> datetime | None:
    """Linear extrapolation from elapsed time and percent done; None until there is a basis."""
    percent = job.progress.percent
    if job.started_at is None or percent <= 0 or percent >= 100:
        return None
    elapsed = now - job.started_at
    return now + elapsed * (100 - percent) / percent
