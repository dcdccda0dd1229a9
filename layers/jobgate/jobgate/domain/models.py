"""The job record and its public representation (docs/api.md "Job resource")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from jobgate.domain.status import JobStatus
from jobgate.lazy import LazyModel
from jobgate.timeutil import to_rfc3339

# Every time we emit is RFC 3339 UTC with millisecond precision and a `Z`.
Timestamp = Annotated[datetime, PlainSerializer(to_rfc3339, return_type=str)]


class CamelModel(LazyModel):
    """Python names in code, camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    COMPENSATED = "compensated"


FINISHED_STEP_STATUSES = frozenset(
    {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.COMPENSATED}
)


class Step(CamelModel):
    name: str
    status: StepStatus = StepStatus.PENDING
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    attempts: int = 0
    detail: dict[str, Any] | None = None


class Progress(CamelModel):
    percent: int = Field(default=0, ge=0, le=100)
    message: str = ""
    eta: Timestamp | None = None
    steps: list[Step] = Field(default_factory=list)


class JobError(CamelModel):
    type: str
    title: str
    detail: str
    step: str | None = None


class Callback(CamelModel):
    url: str
    events: list[str] | None = None


class JobState(CamelModel):
    """What a job's public representation is built from: its state at one version.

    An event stores this much of the job (store/events.py), not the whole job: the input and
    the internals are not part of the resource a client or a webhook receiver sees.
    """

    id: str
    type: str
    status: JobStatus = JobStatus.QUEUED
    progress: Progress = Field(default_factory=Progress)
    created_at: Timestamp
    updated_at: Timestamp
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    expires_at: Timestamp | None = None
    error: JobError | None = None
    callback: Callback | None = None

    def to_resource(self) -> JobResource:
        path = f"/jobs/{self.id}"
        return JobResource(
            id=self.id,
            type=self.type,
            status=self.status,
            progress=self.progress,
            created_at=self.created_at,
            updated_at=self.updated_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
            expires_at=self.expires_at,
            error=self.error,
            callback=self.callback,
            links=JobLinks(
                self=path,
                events=f"{path}/events",
                result=f"{path}/result" if self.status is JobStatus.SUCCEEDED else None,
                cancel=None if self.status.is_terminal else path,
            ),
        )


class Job(JobState):
    """The stored job. `version` guards every write; `last_sequence` numbers its events."""

    tenant_id: str
    version: int = 1
    input: dict[str, Any] = Field(default_factory=dict)
    retention_seconds: int
    last_sequence: int = 0

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def running_step(self) -> str | None:
        return next((s.name for s in self.progress.steps if s.status is StepStatus.RUNNING), None)

    @property
    def etag(self) -> str:
        """A strong validator: the version changes on every accepted write, and only then."""
        return f'"{self.id}.{self.version}"'


class JobLinks(CamelModel):
    self: str
    events: str
    result: str | None
    cancel: str | None


class JobResource(CamelModel):
    """What clients see: the stored job minus its internals (tenant, version, input, ARN)."""

    id: str
    type: str
    status: JobStatus
    progress: Progress
    created_at: Timestamp
    updated_at: Timestamp
    started_at: Timestamp | None
    ended_at: Timestamp | None
    expires_at: Timestamp | None
    error: JobError | None
    callback: Callback | None
    links: JobLinks

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class EventType(StrEnum):
    STARTED = "job.started"
    STEP = "job.step"
    PROGRESS = "job.progress"
    SUCCEEDED = "job.succeeded"
    FAILED = "job.failed"
    CANCELLED = "job.cancelled"
    CANCELLING = "job.cancelling"


class JobEvent(CamelModel):
    """One accepted change of a job: the timeline entry and, later, the webhook body."""

    sequence: int
    type: EventType
    timestamp: Timestamp
    data: dict[str, Any]

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def latest_event(job: Job, event_type: EventType) -> JobEvent:
    """The event of the change that made `job`: its sequence, its time, its resource."""
    return JobEvent(
        sequence=job.last_sequence,
        type=event_type,
        timestamp=job.updated_at,
        data={"job": job.to_resource().to_json_dict()},
    )
