"""Smaller items, same answers: what users see of a job and its events does not change with the layout.

An event item holds the job's state, not the event body; a job item's `doc` leaves out what has
an attribute of its own. Both read back exactly as before, and items written in the earlier
layout (already in a deployed table) still read.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from jobgate.domain import changes
from jobgate.domain.changes import JobChange, apply_change
from jobgate.domain.models import Callback, Job, JobError, JobEvent, Progress, Step, StepStatus
from jobgate.store.events import event_from_item, event_item
from jobgate.store.jobs import _job_from_item, _job_item
from tests.unit.test_status_machine import T0

CHANGES: list[list[JobChange]] = [
    [
        changes.StartJob(),
        changes.RecordStep("fetch", StepStatus.RUNNING),
        changes.RecordProgress("Half way.", percent=50),
        changes.RecordStep("fetch", StepStatus.SUCCEEDED, detail={"rows": 3, "note": None}),
        changes.SucceedJob(),
    ],
    [
        changes.StartJob(),
        changes.RecordStep("fetch", StepStatus.RUNNING),
        changes.FailJob(JobError(type="boom", title="B", detail="d")),
    ],
    [changes.StartJob(), changes.RequestCancel(), changes.ConfirmCancel({"by": "owner"})],
]


def new_job() -> Job:
    return Job(
        id="job_01M8S1XHSXDHABPX1D9YD1ZXZD",
        tenant_id="acme",
        type="demo",
        input={"steps": 2, "failAtStep": None},
        progress=Progress(message="Queued.", steps=[Step(name="fetch"), Step(name="store")]),
        created_at=T0,
        updated_at=T0,
        callback=Callback(url="https://hooks.example.com/x", events=["job.succeeded"]),
        retention_seconds=3600,
    )


def history(changes: list[JobChange]) -> list[tuple[Job, JobEvent, str]]:
    """Each job after a change, its event, and the event's body as the earlier layout stored it."""
    job, seen = new_job(), []
    for number, change in enumerate(changes, start=1):
        applied = apply_change(job, change, T0 + timedelta(seconds=number))
        job = applied.job
        seen.append((job, applied.event, json.dumps(applied.event.to_json_dict(), separators=(",", ":"))))
    return seen


@pytest.mark.parametrize("changes", CHANGES, ids=["succeeds", "fails", "is-cancelled"])
def test_every_event_body_is_rebuilt_byte_for_byte_from_the_smaller_item(changes: list[JobChange]) -> None:
    for job, event, body in history(changes):
        item = event_item(job, event, T0 + timedelta(days=1))
        assert event_from_item(item).body == body
        assert "body" not in item


def test_an_event_item_in_the_earlier_layout_reads_as_it_was_stored() -> None:
    job, event, body = history(CHANGES[0])[-1]
    old = {**event_item(job, event, T0), "body": {"S": body}}
    del old["state"]
    assert event_from_item(old).body == body


@pytest.mark.parametrize("changes", CHANGES, ids=["succeeds", "fails", "is-cancelled"])
def test_a_job_reads_back_whole_from_its_smaller_item(changes: list[JobChange]) -> None:
    for job in [new_job(), *(job for job, _, _ in history(changes))]:
        item = _job_item(job, "token")
        assert _job_from_item(item) == job
        assert '"tenantId"' not in item["doc"]["S"]  # an attribute of its own, not stored twice


def test_a_job_item_in_the_earlier_layout_still_reads() -> None:
    job, _, _ = history(CHANGES[0])[-1]
    old = {**_job_item(job, "token"), "doc": {"S": job.model_dump_json(by_alias=True)}}
    assert _job_from_item(old) == job
