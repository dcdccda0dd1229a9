"""JobSweeper: no job stays unfinished because one call or one event was lost.

The API starts a job's workflow right after writing it; the EventBridge rule tells the
reconciler when a Standard execution ends. Either can be lost (a crash between the write and
the start, Step Functions throttling the start, an event that never arrived). Once a minute the
sweeper (functions/job_sweeper) looks at every job that is not finished and has not changed
for a while, and does what the lost call or event would have done.

An Express execution can be neither described nor heard of when it ends (no events), so a
job on Express is bounded by time instead: unfinished once its run may no longer be going
(the machine's TimeoutSeconds, and the idle wait, after it started), it is failed; or, for a
type that undoes a cut-off run (JobType.recovers_cut_off_runs: a saga), handed to its
Standard machine, which runs the compensations and then ends the job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import Field

from jobgate.config import EnvironmentSettings
from jobgate.domain.models import Job, JobError
from jobgate.domain.status import JobStatus
from jobgate.observability import logger, signals
from jobgate.registry import Workflow
from jobgate.service import JobService, execution_error_type
from jobgate.store.executions import Executions, execution_arn
from jobgate.store.jobs import JobStore
from jobgate.timeutil import utc_now

# A job's sweep is at most three AWS calls (describe, read, write) of at most 12 s each when
# AWS is failing (jobgate/aws.py); more than one is rare, so keep room for two.
SECONDS_PER_JOB = 25.0
# A cut-off Express run is reported as a Standard execution's timeout would be.
EXPRESS_CUT_OFF = "TIMED_OUT"


class SweeperSettings(EnvironmentSettings):
    """The sweeper's bounds (template.yaml Parameters, on JobSweeperFunction only)."""

    idle_seconds: float = Field(alias="SWEEP_IDLE_SECONDS")
    """A job unchanged this long is looked at: a start or an event should have come by then."""
    queued_start_timeout_seconds: float = Field(alias="QUEUED_JOB_START_TIMEOUT_SECONDS")
    """A job still queued without an execution this long after its submit is failed."""
    express_timeout_seconds: float = Field(alias="EXPRESS_JOB_TIMEOUT_SECONDS")
    """TimeoutSeconds of the Express job state machines: no Express run lasts longer."""


@dataclass
class SweepReport:
    started: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reconciled: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    """Express jobs whose cut-off run is being undone on their type's Standard machine."""
    errors: list[str] = field(default_factory=list)
    unfinished: bool = False
    """True when time ran out before every unfinished job was looked at."""

    @property
    def repairs(self) -> int:
        """The jobs this sweep changed: started, failed, reconciled or set to recover."""
        return len(self.started) + len(self.failed) + len(self.reconciled) + len(self.recovered)


class JobSweeper:
    def __init__(
        self,
        *,
        service: JobService,
        jobs: JobStore,
        executions: Executions,
        bounds: SweeperSettings,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._service = service
        self._jobs = jobs
        self._executions = executions
        self._idle = timedelta(seconds=bounds.idle_seconds)
        self._start_timeout = timedelta(seconds=bounds.queued_start_timeout_seconds)
        self._express_timeout = timedelta(seconds=bounds.express_timeout_seconds)
        self._clock = clock

    def sweep(self, seconds_left: Callable[[], float] = lambda: float("inf")) -> SweepReport:
        """`seconds_left`: the invocation's remaining time; the sweep stops while one more job's
        calls still fit (the rest waits for the next run), so it never dies mid-change."""
        report = SweepReport()
        for job in self._jobs.active():
            if seconds_left() < SECONDS_PER_JOB:
                report.unfinished = True
                break
            try:
                self._sweep_one(job, self._clock(), report)
            except Exception:  # noqa: BLE001 - one job's trouble must not stop the sweep of the others
                logger.exception("sweeping a job failed", extra={"job_id": job.id})
                report.errors.append(job.id)
        signals.sweeper_repaired(report.repairs)
        return report

    def _sweep_one(self, job: Job, now: datetime, report: SweepReport) -> None:
        if now - job.updated_at < self._idle:
            return  # still moving: its own start or event may yet come
        if self._service.workflow_of(job) is Workflow.EXPRESS:
            self._sweep_express(job, now, report)
            return
        state = self._executions.describe(execution_arn(self._service.state_machine_of(job), job.id))
        if state is None:
            if job.status is JobStatus.QUEUED:
                self._start_or_fail(job, now, report)
            else:
                self._reconcile(job, "ABORTED", "The execution no longer exists.", report)
            return
        if state.status != "RUNNING":  # a running one's tasks are under way (or retrying), and will report
            self._reconcile(job, state.status, state.cause, report)

    def _sweep_express(self, job: Job, now: datetime, report: SweepReport) -> None:
        if job.status is JobStatus.QUEUED:
            # Its start may be lost, or only slow (a throttled first task): starting it again
            # is harmless, since the twin runs' first tasks start the job once (start_or_resume)
            # and every step is idempotent.
            self._start_or_fail(job, now, report)
        elif now - (job.started_at or job.created_at) > self._express_timeout + self._idle:
            timeout = int(self._express_timeout.total_seconds())
            cause = f"Its Express execution started more than {timeout} s ago (its TimeoutSeconds) and did not end it."
            recovery_machine = self._service.recovery_machine_of(job)
            if recovery_machine is None:
                self._reconcile(job, EXPRESS_CUT_OFF, cause, report)
            else:
                self._recover(job, recovery_machine, cause, report)

    def _recover(self, job: Job, recovery_machine: str, cause: str, report: SweepReport) -> None:
        """Undo what a cut-off Express run did, on the type's Standard machine; once that run has
        ended, a job it left unfinished is reconciled as any Standard one. The idle wait before
        this (SweepIdleSeconds, longer than any task function's Timeout) lets a task the cut-off
        run left behind finish first, so its effect is found and undone, not missed."""
        state = self._executions.describe(execution_arn(recovery_machine, job.id))
        if state is None:
            self._service.start_recovery(job, execution_error_type(EXPRESS_CUT_OFF), cause)
            report.recovered.append(job.id)
        elif state.status != "RUNNING":
            self._reconcile(job, state.status, state.cause, report)

    def _reconcile(self, job: Job, execution_status: str, cause: str | None, report: SweepReport) -> None:
        """What the reconciler does on the execution's EventBridge event (which never came)."""
        if self._service.reconcile_execution(job.id, execution_status, cause):
            report.reconciled.append(job.id)

    def _start_or_fail(self, job: Job, now: datetime, report: SweepReport) -> None:
        if now - job.created_at > self._start_timeout:
            failure = JobError(
                type="start-failed",
                title="The job could not be started.",
                detail=f"Its workflow did not start within {int(self._start_timeout.total_seconds())} s.",
            )
            if self._service.fail(job.id, failure):
                report.failed.append(job.id)
            return
        after = self._service.start(job)
        (report.failed if after.status is JobStatus.FAILED else report.started).append(job.id)
