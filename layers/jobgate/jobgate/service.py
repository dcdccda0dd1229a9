"""JobService: the application logic of jobs, shared by the API, task and reconciler functions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from jobgate import aws
from jobgate.config import Settings
from jobgate.domain.changes import (
    AppliedChange,
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
from jobgate.domain.errors import (
    IdempotencyConflict,
    IllegalTransition,
    InvalidJobRequest,
    JobCancelled,
    JobExpired,
    JobNotFound,
    ResultNotReady,
    TransientStoreError,
)
from jobgate.domain.models import Callback, Job, JobError, Progress, Step, StepStatus
from jobgate.domain.retention import InvalidDuration
from jobgate.domain.status import JobStatus
from jobgate.ids import is_job_id, new_job_id
from jobgate.observability import logger, signals
from jobgate.registry import JobTypeRegistry, UnknownJobType, Workflow
from jobgate.store.executions import Executions, execution_arn
from jobgate.store.jobs import (
    CreateOutcome,
    EventPage,
    IdempotencyClaim,
    IdempotencyKeyReused,
    Item,
    JobPage,
    JobStore,
)
from jobgate.store.optimistic import CONFLICT, Conflict, retry_on_conflict
from jobgate.store.results import ResultStore
from jobgate.timeutil import to_rfc3339, utc_now
from jobgate.webhooks import ssrf


@dataclass(frozen=True)
class SubmitRequest:
    type: str
    input: dict[str, Any]
    callback: Callback | None
    retention: str | None


@dataclass(frozen=True)
class SubmitOutcome:
    job: Job
    replayed: bool


@dataclass(frozen=True)
class ResultView:
    inline_json: str | None = None
    download_url: str | None = None


class JobService:
    def __init__(
        self,
        *,
        settings: Settings,
        jobs: JobStore,
        results: ResultStore,
        executions: Executions,
        registry: JobTypeRegistry,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._jobs = jobs
        self._results = results
        self._executions = executions
        self._registry = registry
        self._clock = clock

    # --- submit -------------------------------------------------------------------------

    def submit(self, tenant_id: str, request: SubmitRequest, idempotency_key: str | None) -> SubmitOutcome:
        job_type, validated = self._validate_input(request)
        if request.callback is not None:
            self._check_callback(request.callback.url)
        retention = self._resolve_retention(request.retention)
        now = self._clock()
        job = Job(
            id=new_job_id(),
            tenant_id=tenant_id,
            type=job_type,
            input=validated.model_dump(mode="json", by_alias=True),
            progress=Progress(
                message="Queued.",
                steps=[Step(name=name) for name in self._registry.get(job_type).step_names(validated)],
            ),
            created_at=now,
            updated_at=now,
            callback=request.callback,
            retention_seconds=int(retention.total_seconds()),
        )
        claim = _idempotency_claim(idempotency_key, request) if idempotency_key else None
        try:
            outcome: CreateOutcome = self._jobs.create(job, claim, now)
        except IdempotencyKeyReused:
            assert idempotency_key is not None
            raise IdempotencyConflict(idempotency_key) from None
        if outcome.created:
            signals.job_submitted(job)
            return SubmitOutcome(job=self.start(job), replayed=False)
        original = self._jobs.get(outcome.job_id)
        if original is None:
            raise JobNotFound(outcome.job_id)
        if original.status is JobStatus.QUEUED and self.workflow_of(original) is Workflow.STANDARD:
            # The first attempt may have died between writing the job and starting it; a
            # second Standard start of the same name is idempotent. An Express one is not (it
            # would run a twin of a start that may only be slow): the sweeper starts it if lost.
            original = self.start(original)
        return SubmitOutcome(job=original, replayed=True)

    def _validate_input(self, request: SubmitRequest) -> tuple[str, BaseModel]:
        try:
            job_type = self._registry.get(request.type)
        except UnknownJobType:
            known = ", ".join(self._registry.names())
            raise InvalidJobRequest(
                f"Unknown job type {request.type!r}; this deployment runs: {known}.",
                [{"pointer": "#/type", "detail": f"must be one of: {known}"}],
            ) from None
        try:
            return job_type.name, job_type.input_model.model_validate(request.input)
        except ValidationError as error:
            raise InvalidJobRequest(
                f"The input is not valid for job type {job_type.name!r}.",
                [
                    {"pointer": "#/input/" + "/".join(str(p) for p in e["loc"]), "detail": e["msg"]}
                    for e in error.errors()
                ],
            ) from None

    def _check_callback(self, url: str) -> None:
        """docs/webhooks.md at submit: the URL rules, and a host that resolves only to allowed addresses."""
        try:
            ssrf.resolve_callback_url(url, ssrf.AllowList.parse(self._settings.webhook_allowed_networks))
        except ssrf.CallbackRefused as refused:
            detail = f"The callback URL is not acceptable: {refused}"
            raise InvalidJobRequest(detail, [{"pointer": "#/callback/url", "detail": str(refused)}]) from None

    def _resolve_retention(self, requested: str | None) -> timedelta:
        try:
            return self._settings.retention_policy.resolve(requested)
        except InvalidDuration as error:
            raise InvalidJobRequest(str(error), [{"pointer": "#/retention", "detail": str(error)}]) from None

    def start(self, job: Job) -> Job:
        """Start a queued job's workflow: the job as it is, still queued when Step Functions is
        throttling (the sweeper tries again), or failed when it cannot start at all."""
        try:
            self._executions.start(
                self.state_machine_of(job),
                job.id,
                {"jobId": job.id, "type": job.type, "input": job.input},
            )
        except Exception as error:  # noqa: BLE001 - any failure to start must end the job, not strand it
            if aws.is_backpressure(error):
                # Step Functions is throttling or slow: the job is accepted and stays queued;
                # the sweeper (functions/job_sweeper) starts it, or fails it past its bound.
                logger.warning("job stays queued: its start was throttled", extra={"job_id": job.id})
                return job
            failure = JobError(
                type="start-failed",
                title="The job could not be started.",
                detail=f"Starting the workflow failed: {type(error).__name__}.",
            )
            return self.apply(job.id, FailJob(failure))
        # Answered as accepted (queued); no second read: the client polls for what follows.
        return job

    def workflow_of(self, job: Job) -> Workflow:
        return self._registry.get(job.type).workflow_for(job.input)

    def state_machine_of(self, job: Job) -> str:
        """The state machine the job runs on: its type's Standard or Express one, by its input."""
        return self._settings.state_machine_arn(job.type, express=self.workflow_of(job) is Workflow.EXPRESS)

    def recovery_machine_of(self, job: Job) -> str | None:
        """The Standard machine that undoes a cut-off Express run of this job's type, if it has one."""
        if self._registry.get(job.type).recovers_cut_off_runs:
            return self._settings.state_machine_arn(job.type)
        return None

    def start_recovery(self, job: Job, error: str, cause: str) -> None:
        """Start the Standard run that undoes what the job's Express run did and then ends the job
        (JobType.recovers_cut_off_runs); `error` and `cause` are what the job fails with. A
        repeat finds it started (the execution is named after the job)."""
        recovery_machine = self.recovery_machine_of(job)
        assert recovery_machine is not None
        recovery = {"Error": error, "Cause": cause}
        self._executions.start(
            recovery_machine, job.id, {"jobId": job.id, "type": job.type, "input": job.input, "recovery": recovery}
        )

    # --- reading ------------------------------------------------------------------------

    def get_for_tenant(self, tenant_id: str, job_id: str, *, consistent: bool = True) -> Job:
        """The job, or JobNotFound when it is another tenant's (indistinguishable), or JobExpired.
        `consistent=False` reads at half the price, and may read an earlier version."""
        # Not an id we issue: not found, without a read (DynamoDB refuses keys over 2 KiB).
        job = self._jobs.get(job_id, consistent=consistent) if is_job_id(job_id) else None
        if job is None or job.tenant_id != tenant_id:
            raise JobNotFound(job_id)
        if job.is_expired(self._clock()):
            assert job.expires_at is not None
            raise JobExpired(job_id, to_rfc3339(job.expires_at))
        return job

    def list_for_tenant(
        self, tenant_id: str, *, limit: int, cursor: str | None, status: JobStatus | None, job_type: str | None
    ) -> JobPage:
        return self._jobs.list_for_tenant(
            tenant_id, limit=limit, cursor=cursor, status=status, job_type=job_type, now=self._clock()
        )

    def events_for_tenant(self, tenant_id: str, job_id: str, *, after: int, limit: int) -> EventPage:
        self.get_for_tenant(tenant_id, job_id)
        return self._jobs.list_events(job_id, after=after, limit=limit)

    def result_for_tenant(self, tenant_id: str, job_id: str) -> ResultView:
        job = self.get_for_tenant(tenant_id, job_id)
        if job.status is not JobStatus.SUCCEEDED:
            raise ResultNotReady(job_id, job.status.value)
        stored = self._results.get(job_id)
        if stored is None:
            return ResultView(inline_json="null")
        if stored.object_key is not None:
            return ResultView(download_url=self._results.download_url(stored.object_key))
        return ResultView(inline_json=stored.inline_json)

    # --- cancel and purge -----------------------------------------------------------------

    def cancel_or_purge(self, tenant_id: str, job_id: str) -> Job | None:
        """Cancel a job that is still going (returns it); purge a finished one (returns None)."""
        job = self.get_for_tenant(tenant_id, job_id)
        if job.status.is_terminal:
            if not self._jobs.claim_purge(job_id):
                raise JobNotFound(job_id)  # a concurrent DELETE purges it
            self._purge(job)
            return None
        if job.status is not JobStatus.CANCELLING:
            try:
                job = self.apply(job_id, RequestCancel())
            except IllegalTransition:
                # It finished meanwhile: report it as it is; a second DELETE purges it.
                return self.get_for_tenant(tenant_id, job_id)
        if self.workflow_of(job) is Workflow.EXPRESS or not self._registry.get(job.type).stop_on_cancel:
            # Express executions cannot be stopped, and a job type that must undo its work on
            # cancel (stop_on_cancel=False) is not: the next task sees `cancelling` and ends the run.
            return job
        self._executions.stop(execution_arn(self.state_machine_of(job), job.id), "Cancelled by its owner.")
        return self.try_apply(job_id, ConfirmCancel()) or self.get_for_tenant(tenant_id, job_id)

    def _purge(self, job: Job) -> None:
        stored = self._results.get(job.id)
        if stored is not None and stored.object_key is not None:
            self._results.delete_object(stored.object_key)
        self._jobs.purge(job.id)

    # --- changes from the workflow --------------------------------------------------------

    def apply(self, job_id: str, change: JobChange, with_items: Sequence[Item] = ()) -> Job:
        """Apply one change under optimistic locking; IllegalTransition if the machine refuses it.
        `with_items` are written in the same transaction, only if the change is."""
        applied = self._change(job_id, lambda job, now: apply_change(job, change, now), with_items)
        assert applied is not None  # the plan above always plans a change
        return applied

    def _change(
        self, job_id: str, plan: Callable[[Job, datetime], AppliedChange | None], with_items: Sequence[Item] = ()
    ) -> Job | None:
        """Read the job, plan a change (None: nothing to do) and save it on the version read; when
        another writer got in between (parallel steps, a cancel racing a task), start again."""

        def attempt() -> Job | Conflict | None:
            stored = self._jobs.read_for_change(job_id)
            if stored is None:
                raise JobNotFound(job_id)
            now = self._clock()
            applied = plan(stored.job, now)
            if applied is None:
                return None
            if not self._jobs.save_change(stored, applied, with_items):
                return CONFLICT
            signals.job_changed(stored.job, applied.job)
            return applied.job

        # TransientStoreError is what state machines retry.
        return retry_on_conflict(
            attempt,
            gave_up=lambda attempts: TransientStoreError(
                f"job {job_id} kept changing; gave up after {attempts} attempts"
            ),
        )

    def try_apply(self, job_id: str, change: JobChange) -> Job | None:
        """Like apply, but a refused change (late or duplicate) is None instead of an error."""
        try:
            return self.apply(job_id, change)
        except IllegalTransition:
            return None

    def start_running(self, job_id: str) -> Job:
        """The workflow's first task. A job cancelled before it began ends the workflow here."""
        try:
            return self.apply(job_id, StartJob())
        except IllegalTransition as refusal:
            raise JobCancelled(f"job {job_id} is {refusal.current}; not starting it") from None

    def start_or_resume(self, job_id: str) -> Job:
        """The first task's start written by the task itself (no lifecycle state of its own):
        a queued job starts; a running one is returned as it is, since a task (or a whole
        Express execution) may run twice; any other ends the workflow (JobCancelled)."""
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.status is JobStatus.QUEUED:
            try:
                return self.apply(job_id, StartJob())
            except IllegalTransition:
                return self.start_or_resume(job_id)  # a twin run started it first: look again
        if job.status is not JobStatus.RUNNING:
            raise JobCancelled(f"job {job_id} is {job.status.value}; not running its work")
        return job

    def complete_or_stop(self, job_id: str, result: Any) -> Job:
        """complete() from a work task that ends the workflow: a refused success (the job was
        cancelled meanwhile) is JobCancelled, so the workflow never succeeds without its job."""
        job = self.complete(job_id, result) or self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.SUCCEEDED:  # succeeded: a retry after it committed
            raise JobCancelled(f"job {job_id} no longer runs; its result is not kept")
        return job

    def peek(self, job_id: str) -> Job | None:
        """The job as stored, for the workflow's own tasks (no tenant check: they run it)."""
        return self._jobs.get(job_id)

    def require_active(self, job_id: str) -> Job:
        """Called before each unit of work: a job being cancelled stops at the next step."""
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.status is not JobStatus.RUNNING:
            raise JobCancelled(f"job {job_id} is {job.status.value}; stopping its work")
        return job

    def record_step(self, job_id: str, name: str, status: StepStatus, detail: dict[str, Any] | None = None) -> Job:
        try:
            return self.apply(job_id, RecordStep(name=name, status=status, detail=detail))
        except IllegalTransition as refusal:
            raise JobCancelled(f"job {job_id} is {refusal.current}; step {name} not recorded") from None

    def begin_step(self, job_id: str, name: str) -> bool:
        """The check and the write in one change: a twin Express run that read the job before the
        step succeeded must not set it back to running (its progress would go backwards)."""

        def plan(job: Job, now: datetime) -> AppliedChange | None:
            if any(step.name == name and step.status is StepStatus.SUCCEEDED for step in job.progress.steps):
                return None
            return apply_change(job, RecordStep(name=name, status=StepStatus.RUNNING), now)

        try:
            return self._change(job_id, plan) is not None
        except IllegalTransition as refusal:
            raise JobCancelled(f"job {job_id} is {refusal.current}; step {name} not begun") from None

    def advance_progress(self, job_id: str, message: str, percent: int) -> bool:
        """Progress that only moves forward although several tasks report it at once (two
        chunks racing must not store 41 after 42): False if the job already shows `percent` or more."""

        def plan(job: Job, now: datetime) -> AppliedChange | None:
            if job.progress.percent >= percent:
                return None
            return apply_change(job, RecordProgress(message=message, percent=percent), now)

        try:
            return self._change(job_id, plan) is not None
        except IllegalTransition as refusal:
            raise JobCancelled(f"job {job_id} is {refusal.current}; progress not recorded") from None

    def complete(self, job_id: str, result: Any) -> Job | None:
        """Succeed the job with its result, both in one write; None (and no result kept) if refused.

        Of two completes racing, one commits; the other keeps nothing and removes only its own
        object. A write that failed without an answer may still have committed: its object
        stays (it is the job's result then, or it goes when the job expires)."""
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.status is not JobStatus.RUNNING:
            return None
        keep_until = self._clock() + timedelta(seconds=job.retention_seconds)
        prepared = self._results.prepare(job.tenant_id, job_id, json.dumps(result, separators=(",", ":")), keep_until)
        try:
            succeeded = self.apply(job_id, SucceedJob(), with_items=[prepared.item])
        except IllegalTransition:
            self._results.discard(prepared)
            return None
        return succeeded

    def fail(self, job_id: str, error: JobError) -> Job | None:
        return self.try_apply(job_id, FailJob(error))

    def confirm_cancelled(self, job_id: str) -> Job | None:
        return self.try_apply(job_id, ConfirmCancel())

    def reconcile_execution(self, job_id: str, execution_status: str, cause: str | None) -> Job | None:
        """An execution ended; make sure its job did too (a timeout or abort never reports itself)."""
        job = self._jobs.get(job_id)
        if job is None or job.status.is_terminal:
            return None
        if job.status is JobStatus.CANCELLING:
            return self.confirm_cancelled(job_id)
        detail = {
            "FAILED": "The workflow failed without recording why.",
            "TIMED_OUT": "The workflow ran past its time limit.",
            "ABORTED": "The workflow was stopped outside jobgate.",
            "SUCCEEDED": "The workflow ended without reporting a result.",
        }.get(execution_status, f"The workflow ended with status {execution_status}.")
        error = JobError(
            type=execution_error_type(execution_status),
            title="The job's workflow ended unexpectedly.",
            detail=detail if not cause else f"{detail} {cause[:500]}",
            step=job.running_step(),
        )
        return self.fail(job_id, error)


def execution_error_type(execution_status: str) -> str:
    """The error type of a job whose execution ended on its own (TIMED_OUT: execution-timed-out)."""
    return f"execution-{execution_status.lower().replace('_', '-')}"


def _idempotency_claim(key: str, request: SubmitRequest) -> IdempotencyClaim:
    canonical = json.dumps(
        {
            "type": request.type,
            "input": request.input,
            "callback": request.callback.model_dump(mode="json") if request.callback else None,
            "retention": request.retention,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return IdempotencyClaim(
        key=key,
        key_hash=hashlib.sha256(key.encode()).hexdigest(),
        request_hash=hashlib.sha256(canonical.encode()).hexdigest(),
    )
