"""The status machine: which changes are accepted, and what each accepted change records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobgate.domain.changes import (
    ConfirmCancel,
    FailJob,
    JobChange,
    RecordProgress,
    RecordStep,
    RequestCancel,
    StartJob,
    SucceedJob,
    apply_change,
)
from jobgate.domain.errors import IllegalTransition
from jobgate.domain.models import EventType, Job, JobError, Progress, Step, StepStatus
from jobgate.domain.status import JobStatus

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
ALL_CHANGES: list[JobChange] = [
    StartJob(),
    RecordStep("step-1", StepStatus.RUNNING),
    RecordProgress("working"),
    SucceedJob(),
    FailJob(JobError(type="x", title="x", detail="x")),
    RequestCancel(),
    ConfirmCancel(),
]


def make_job(status: JobStatus = JobStatus.QUEUED, steps: int = 2) -> Job:
    return Job(
        id="job_01JDQ4Z5V3F0T4J6N8KQ2M9XYZ",
        tenant_id="acme",
        type="demo",
        status=status,
        progress=Progress(steps=[Step(name=f"step-{i + 1}") for i in range(steps)]),
        created_at=T0,
        updated_at=T0,
        started_at=T0 if status is not JobStatus.QUEUED else None,
        retention_seconds=3600,
    )


@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED])
@pytest.mark.parametrize("change", ALL_CHANGES, ids=lambda c: type(c).__name__)
def test_a_terminal_job_refuses_every_change(status: JobStatus, change: JobChange) -> None:
    # Given a job that has ended
    job = make_job(status)
    # When anything at all tries to change it, Then it is refused
    with pytest.raises(IllegalTransition):
        apply_change(job, change, T0)


@pytest.mark.parametrize(
    ("status", "change", "expected"),
    [
        (JobStatus.QUEUED, StartJob(), JobStatus.RUNNING),
        (JobStatus.QUEUED, RequestCancel(), JobStatus.CANCELLING),
        (JobStatus.QUEUED, FailJob(JobError(type="start-failed", title="t", detail="d")), JobStatus.FAILED),
        (JobStatus.RUNNING, RecordStep("step-1", StepStatus.RUNNING), JobStatus.RUNNING),
        (JobStatus.RUNNING, SucceedJob(), JobStatus.SUCCEEDED),
        (JobStatus.RUNNING, RequestCancel(), JobStatus.CANCELLING),
        (JobStatus.CANCELLING, RecordStep("step-1", StepStatus.COMPENSATED), JobStatus.CANCELLING),
        (JobStatus.CANCELLING, ConfirmCancel(), JobStatus.CANCELLED),
    ],
)
def test_allowed_transitions_reach_their_status(status: JobStatus, change: JobChange, expected: JobStatus) -> None:
    assert apply_change(make_job(status), change, T0).job.status is expected


@pytest.mark.parametrize(
    ("status", "change"),
    [
        (JobStatus.QUEUED, SucceedJob()),  # a job that never ran cannot succeed
        (JobStatus.QUEUED, RecordStep("step-1", StepStatus.RUNNING)),
        (JobStatus.RUNNING, StartJob()),  # a duplicate start
        (JobStatus.RUNNING, ConfirmCancel()),  # cancelled only through cancelling
        (JobStatus.CANCELLING, SucceedJob()),  # a late completion after a cancel
        (JobStatus.CANCELLING, StartJob()),
    ],
)
def test_illegal_transitions_are_refused(status: JobStatus, change: JobChange) -> None:
    with pytest.raises(IllegalTransition):
        apply_change(make_job(status), change, T0)


def test_each_accepted_change_bumps_version_and_appends_the_next_event() -> None:
    job = make_job()
    started = apply_change(job, StartJob(), T0)
    stepped = apply_change(started.job, RecordStep("step-1", StepStatus.RUNNING), T0 + timedelta(seconds=1))

    assert (started.job.version, started.event.sequence, started.event.type) == (2, 1, EventType.STARTED)
    assert (stepped.job.version, stepped.event.sequence, stepped.event.type) == (3, 2, EventType.STEP)
    assert stepped.event.data["job"]["progress"]["steps"][0]["status"] == "running"


def test_the_event_carries_the_job_as_clients_see_it() -> None:
    applied = apply_change(make_job(), StartJob(), T0)
    body = applied.event.to_json_dict()
    assert body["data"]["job"]["status"] == "running"
    assert "tenantId" not in body["data"]["job"]
    assert "input" not in body["data"]["job"]
    assert body["timestamp"] == "2026-11-29T08:00:00.000Z"


def test_ending_sets_ended_at_and_expiry_from_the_retention() -> None:
    ended = apply_change(make_job(JobStatus.RUNNING), SucceedJob(), T0).job
    assert ended.ended_at == T0
    assert ended.expires_at == T0 + timedelta(hours=1)
    assert ended.progress.percent == 100


def test_steps_drive_percent_and_an_eta() -> None:
    running = make_job(JobStatus.RUNNING, steps=4)
    one_done = apply_change(running, RecordStep("step-1", StepStatus.SUCCEEDED), T0 + timedelta(seconds=10)).job
    assert one_done.progress.percent == 25
    # 25 % took 10 s, so 75 % more take about 30 s.
    assert one_done.progress.eta == T0 + timedelta(seconds=40)


def test_a_retried_step_counts_its_attempts() -> None:
    job = make_job(JobStatus.RUNNING)
    for _ in range(3):
        job = apply_change(job, RecordStep("step-1", StepStatus.RUNNING), T0).job
    assert job.progress.steps[0].attempts == 3


def test_failure_marks_the_running_step_failed_and_records_the_error() -> None:
    job = apply_change(make_job(JobStatus.RUNNING), RecordStep("step-2", StepStatus.RUNNING), T0).job
    error = JobError(type="DemoStepFailed", title="Step step-2 failed.", detail="boom", step="step-2")
    failed = apply_change(job, FailJob(error), T0).job
    assert failed.status is JobStatus.FAILED
    assert failed.error == error
    assert [s.status for s in failed.progress.steps] == [StepStatus.PENDING, StepStatus.FAILED]
