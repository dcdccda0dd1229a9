"""The API's resources as small typed classes, read from its JSON (docs/api.md "Job resource")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    """The statuses the API defines; a job's `status` compares equal to these strings."""

    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


def parse_time(value: str | None) -> datetime | None:
    """RFC 3339 UTC with `Z`, as every time the API sends."""
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Step:
    name: str
    status: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    attempts: int = 0
    detail: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        return cls(
            name=data["name"],
            status=data["status"],
            started_at=parse_time(data.get("startedAt")),
            ended_at=parse_time(data.get("endedAt")),
            attempts=data.get("attempts", 0),
            detail=data.get("detail"),
        )


@dataclass(frozen=True)
class Progress:
    percent: int = 0
    message: str = ""
    eta: datetime | None = None
    steps: tuple[Step, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        return cls(
            percent=data.get("percent", 0),
            message=data.get("message", ""),
            eta=parse_time(data.get("eta")),
            steps=tuple(Step.from_json(step) for step in data.get("steps", [])),
        )

    @property
    def current_step(self) -> str | None:
        """The step running now, else the last one that ended."""
        running = [step.name for step in self.steps if step.status == "running"]
        if running:
            return running[0]
        ended = [step.name for step in self.steps if step.status != "pending"]
        return ended[-1] if ended else None


@dataclass(frozen=True)
class JobError:
    """Why a job failed: `type` names the failure (e.g. `DemoStepFailed`, `execution-timed-out`)."""

    type: str
    title: str
    detail: str
    step: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobError:
        return cls(type=data["type"], title=data["title"], detail=data["detail"], step=data.get("step"))


@dataclass(frozen=True)
class Callback:
    url: str
    events: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Job:
    id: str
    type: str
    status: str
    progress: Progress
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    expires_at: datetime | None
    error: JobError | None
    callback: Callback | None
    links: dict[str, str | None]
    # The JSON as the API sent it, for fields this client does not model yet.
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        callback = data.get("callback")
        events = callback.get("events") if callback else None
        return cls(
            id=data["id"],
            type=data["type"],
            status=data["status"],
            progress=Progress.from_json(data.get("progress") or {}),
            created_at=datetime.fromisoformat(data["createdAt"]),
            updated_at=datetime.fromisoformat(data["updatedAt"]),
            started_at=parse_time(data.get("startedAt")),
            ended_at=parse_time(data.get("endedAt")),
            expires_at=parse_time(data.get("expiresAt")),
            error=JobError.from_json(data["error"]) if data.get("error") else None,
            callback=Callback(callback["url"], tuple(events) if events is not None else None) if callback else None,
            links=dict(data.get("links") or {}),
            raw=data,
        )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class Event:
    """One entry of a job's timeline: exactly what a webhook delivers."""

    sequence: int
    type: str
    timestamp: datetime
    job: Job
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        return cls(
            sequence=data["sequence"],
            type=data["type"],
            timestamp=datetime.fromisoformat(data["timestamp"]),
            job=Job.from_json(data["data"]["job"]),
            raw=data,
        )


@dataclass(frozen=True)
class Upload:
    """A file put where a job input can name it: `{"upload": upload.upload_id}`."""

    upload_id: str
    expires_at: datetime
