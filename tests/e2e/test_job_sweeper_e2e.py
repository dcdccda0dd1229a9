"""The job sweeper runs on its schedule in the local stack and starts a job whose start was lost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobgate.domain.models import Job, Progress, Step
from jobgate.ids import new_job_id
from jobgate.store.jobs import JobStore
from jobgate.timeutil import utc_now
from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import API_KEY, TERMINAL, Client, start_local_stack

# rate(1 minute) and SweepIdleSeconds (60 s) become 3 s; the start bound (600 s) 30 s; the
# Express TimeoutSeconds (300 s) 15 s.
TIME_SCALE = 0.05


@pytest.fixture(scope="module")
def fast_sweeping_stack() -> Iterator[LocalStack]:
    stack = start_local_stack(time_scale=TIME_SCALE)
    yield stack
    stack.stop()


def test_a_job_written_but_never_started_is_started_by_the_scheduled_sweeper(
    fast_sweeping_stack: LocalStack,
) -> None:
    # Given a job that was written but whose API process died before StartExecution
    now = utc_now()
    job = Job(
        id=new_job_id(),
        tenant_id="acme",
        type="demo",
        input={"steps": 1, "stepSeconds": 0},
        progress=Progress(message="Queued.", steps=[Step(name="step-1")]),
        created_at=now,
        updated_at=now,
        retention_seconds=3600,
    )
    template = fast_sweeping_stack.template
    assert template is not None
    store = JobStore(fast_sweeping_stack.endpoints.client("dynamodb"), template.physical_names["JobsTable"])
    assert store.create(job, None, now).created
    # Then the sweeper, on its schedule, starts it and it runs to the end
    finished = Client(fast_sweeping_stack.api_url, API_KEY).wait_for(
        job.id, lambda seen: seen["status"] in TERMINAL, timeout=60
    )
    assert finished["status"] == "succeeded"


def test_an_express_job_whose_execution_dies_is_failed_within_its_bound(fast_sweeping_stack: LocalStack) -> None:
    # Given an Express demo job (planned 30 s) whose execution Step Functions ends at its
    # TimeoutSeconds (300 s here 15 s) mid-pause: an Express run sends no event when it ends
    client = Client(fast_sweeping_stack.api_url, API_KEY)
    job = client.submit({"steps": 2, "stepSeconds": 30})
    # Then the sweeper fails it once no run can still be going (TimeoutSeconds + SweepIdleSeconds)
    failed = client.wait_for(job["id"], lambda seen: seen["status"] in TERMINAL, timeout=60)
    assert failed["status"] == "failed"
    assert failed["error"]["type"] == "execution-timed-out"
    assert "TimeoutSeconds" in failed["error"]["detail"]  # the sweeper's word: no event reconciled it
    assert failed["error"]["step"] is None  # step-1 had finished; the pause was under way
    assert [s["status"] for s in failed["progress"]["steps"]] == ["succeeded", "pending"]
    events = client.request("GET", f"/jobs/{job['id']}/events").json()["items"]
    assert [e["type"] for e in events if e["type"] in {"job.succeeded", "job.failed", "job.cancelled"}] == [
        "job.failed"
    ]
