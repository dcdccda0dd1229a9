"""Request and response bodies of the HTTP API (they also generate /openapi.json)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobgate.domain.models import CamelModel, EventType, JobEvent, JobResource, Timestamp


class CallbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2048, description="HTTPS URL that receives a signed webhook per event (see docs/webhooks.md)."
    )
    events: list[EventType] | None = Field(
        default=None, description="Event types to send; default: every status change, not job.progress."
    )


class SubmitJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="The job type, e.g. `demo`.")
    input: dict[str, Any] = Field(default_factory=dict, description="Input, validated by the job type's model.")
    callback: CallbackRequest | None = None
    retention: str | None = Field(
        default=None,
        description=(
            "How long the finished job stays readable (ISO 8601 duration); the default and the bounds "
            "are the stack's JobRetentionDefault, JobRetentionMin and JobRetentionMax parameters."
        ),
    )


class JobList(BaseModel):
    items: list[JobResource]
    next: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class EventList(BaseModel):
    items: list[JobEvent]
    next: str | None = Field(description="Pass as `after` for the next page; null when there is no more.")


class UploadCreated(CamelModel):
    upload_id: str
    url: str
    method: str = "PUT"
    expires_at: Timestamp
