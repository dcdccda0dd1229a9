"""What the functions tell their operators: the one Logger, the one Tracer and the metrics.

Logs are Powertools JSON lines (with `xray_trace_id` whenever Lambda traces the invocation).
Metrics are CloudWatch embedded metric format (EMF) lines on stdout, namespace and `service`
dimension from the environment (POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME); their
names, units and dimensions are those of docs/operations.md, "Metrics and traces", which the
template's alarms and dashboard read. The services report facts through `signals`; only this
module knows how they become metrics.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from jobgate.domain.status import JobStatus

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

    from jobgate.domain.models import Job

logger = Logger()
# Most invocations have no metric of the shared line (only `service` as dimension) to write.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


class Metric(StrEnum):
    JOBS_SUBMITTED = "JobsSubmitted"
    JOBS_STARTED = "JobsStarted"
    JOBS_SUCCEEDED = "JobsSucceeded"
    JOBS_FAILED = "JobsFailed"
    JOBS_CANCELLED = "JobsCancelled"
    JOB_DURATION = "JobDuration"
    TIME_QUEUED = "TimeQueued"
    WEBHOOK_ATTEMPTS = "WebhookAttempts"
    WEBHOOK_DELIVERY_LATENCY = "WebhookDeliveryLatency"
    WEBHOOK_RETRIES_SCHEDULED = "WebhookRetriesScheduled"
    WEBHOOK_DEAD_LETTERED = "WebhookDeadLettered"
    RECONCILER_REPAIRS = "ReconcilerRepairs"
    SWEEPER_REPAIRS = "SweeperRepairs"
    STORE_CONFLICTS_RETRIED = "StoreConflictsRetried"


UNITS: Final[Mapping[Metric, MetricUnit]] = {
    **{metric: MetricUnit.Count for metric in Metric},
    Metric.JOB_DURATION: MetricUnit.Seconds,
    Metric.TIME_QUEUED: MetricUnit.Seconds,
    Metric.WEBHOOK_DELIVERY_LATENCY: MetricUnit.Milliseconds,
}
# The only dimensions besides `service`: few values each. A tenant or job id never is one
# (a metric per id would be a CloudWatch metric each); the job id goes in the EMF line's metadata.
JOB_TYPE: Final = "JobType"
OUTCOME: Final = "Outcome"
TERMINAL_COUNTS: Final[Mapping[JobStatus, Metric]] = {
    JobStatus.SUCCEEDED: Metric.JOBS_SUCCEEDED,
    JobStatus.FAILED: Metric.JOBS_FAILED,
    JobStatus.CANCELLED: Metric.JOBS_CANCELLED,
}


class MetricsSink(Protocol):
    def record(
        self, values: Mapping[Metric, float], dimensions: Mapping[str, str], metadata: Mapping[str, str]
    ) -> None: ...


@functools.cache
def shared_metrics() -> Metrics:
    """The metrics of the invocation's own EMF line, which `instrumented` writes when it ends.
    Built on first use: namespace and service are read from the environment then."""
    return Metrics()


class EmfSink:
    """Writes metrics as EMF. One EMF line has one set of dimensions: metrics with dimensions of
    their own are written at once, a line each; those with only `service` are added to
    `shared_metrics`, which the handler's `log_metrics` writes as one line when the invocation ends."""

    def __init__(self, shared: Callable[[], Metrics]) -> None:
        self._shared = shared
        self._lock = threading.Lock()  # the webhook functions attempt a batch's records on threads

    def record(
        self, values: Mapping[Metric, float], dimensions: Mapping[str, str], metadata: Mapping[str, str]
    ) -> None:
        if not dimensions:
            with self._lock:
                for metric, value in values.items():
                    self._shared().add_metric(name=metric.value, unit=UNITS[metric], value=value)
            return
        line = EphemeralMetrics()
        for name, dimension in dimensions.items():
            line.add_dimension(name=name, value=dimension)
        for metric, value in values.items():
            line.add_metric(name=metric.value, unit=UNITS[metric], value=value)
        for key, text in metadata.items():
            line.add_metadata(key=key, value=text)
        line.flush_metrics()


class Signals:
    """The facts the services report, each where it happens (docs/operations.md lists them)."""

    def __init__(self, sink: MetricsSink) -> None:
        self._sink = sink

    def _record(
        self, values: Mapping[Metric, float], dimensions: Mapping[str, str] | None = None, job_id: str | None = None
    ) -> None:
        try:
            self._sink.record(values, dimensions or {}, {"jobId": job_id} if job_id else {})
        except Exception:  # a metric never fails the change it reports: that is saved already
            logger.exception("metrics not written", extra={"metrics": [metric.value for metric in values]})

    def job_submitted(self, job: Job) -> None:
        self._record({Metric.JOBS_SUBMITTED: 1}, {JOB_TYPE: job.type}, job.id)

    def job_changed(self, before: Job, after: Job) -> None:
        """A change was saved: a start or an end is counted, with the time it took to get there."""
        if before.status is JobStatus.QUEUED and after.status is JobStatus.RUNNING:
            queued = _seconds_between(after.created_at, after.started_at or after.updated_at)
            values = {Metric.JOBS_STARTED: 1.0, Metric.TIME_QUEUED: queued}
        elif after.status.is_terminal and not before.status.is_terminal:
            duration = _seconds_between(after.created_at, after.ended_at or after.updated_at)
            values = {TERMINAL_COUNTS[after.status]: 1.0, Metric.JOB_DURATION: duration}
        else:
            return
        self._record(values, {JOB_TYPE: after.type}, after.id)

    def webhook_attempted(self, *, delivered: bool, latency_ms: float | None = None) -> None:
        """One delivery attempt; `latency_ms`, for a delivered one: from the event to the receiver's answer."""
        self._record({Metric.WEBHOOK_ATTEMPTS: 1}, {OUTCOME: "delivered" if delivered else "failed"})
        if latency_ms is not None:
            self._record({Metric.WEBHOOK_DELIVERY_LATENCY: latency_ms})

    def webhook_retry_scheduled(self) -> None:
        self._record({Metric.WEBHOOK_RETRIES_SCHEDULED: 1})

    def webhook_dead_lettered(self) -> None:
        self._record({Metric.WEBHOOK_DEAD_LETTERED: 1})

    def reconciler_repaired(self) -> None:
        self._record({Metric.RECONCILER_REPAIRS: 1})

    def sweeper_repaired(self, jobs: int) -> None:
        if jobs:
            self._record({Metric.SWEEPER_REPAIRS: jobs})

    def store_conflict_retried(self) -> None:
        self._record({Metric.STORE_CONFLICTS_RETRIED: 1})


def _seconds_between(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


signals = Signals(EmfSink(shared_metrics))

# ------------------------------------------------------------------------------ traces

# Only botocore: every AWS call becomes a subsegment. Patching requests would import it in every
# function (tests/integration/test_cold_start.py), so calls to receivers and vendors are not traced.
TRACED_MODULES: Final = ("botocore",)


@functools.cache
def tracer() -> Tracer:
    """The Powertools Tracer, built by the first invocation, not at import: the X-Ray SDK takes
    ~0.2 s to load and patch botocore, more than a handler's whole import (docs/performance.md)."""
    from aws_lambda_powertools import Tracer

    return Tracer(patch_modules=TRACED_MODULES)


def instrumented[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """What every handler wears: traced (X-Ray), and its metrics line written when it returns or
    raises (`log_metrics`). Both are put on by the first invocation (see `tracer`)."""
    instrumented_handler: list[Callable[..., Any]] = []

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        if not instrumented_handler:
            # Not the response: it can hold a tenant's data, and a large one would not fit a segment.
            traced = tracer().capture_lambda_handler(handler, capture_response=False)
            instrumented_handler.append(shared_metrics().log_metrics(traced))
        return instrumented_handler[0](event, context)

    return run  # type: ignore[return-value]


def about_job(job_id: str | None, job_type: str | None = None) -> None:
    """Mark the invocation's trace with the job it works on: its type an annotation (searchable,
    few values), its id metadata. The log lines carry both, and the trace id, to join them."""
    if job_type:
        tracer().put_annotation(JOB_TYPE, job_type)
    if job_id:
        tracer().put_metadata("jobId", job_id)
