"""Webhook bodies as jobgate's dispatcher sends them, for the receiving side's tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from jobgate.domain.models import Callback, EventType, Job, JobEvent, Progress
from jobgate.domain.status import JobStatus


def event_body(job_id: str, sequence: int = 3, *, events: list[str] | None = None) -> bytes:
    """Event `sequence` of a running demo job, a job.progress at 40 %, whose callback gets `events`."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    job = Job(
        id=job_id,
        tenant_id="acme",
        type="demo",
        status=JobStatus.RUNNING,
        progress=Progress(percent=40),
        created_at=now,
        updated_at=now,
        retention_seconds=3600,
        callback=Callback(url="https://hooks.example.com/jobgate", events=events),
    )
    event = JobEvent(sequence=sequence, type=EventType.PROGRESS, timestamp=now, data={"job": job.to_resource()})
    return json.dumps(event.to_json_dict(), separators=(",", ":")).encode()
