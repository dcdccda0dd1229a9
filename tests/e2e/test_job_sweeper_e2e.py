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

# rate(1 minute) and SweepIdleSeconds (60 s) become 3 s; the start bound (600 s) 30 s.
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
