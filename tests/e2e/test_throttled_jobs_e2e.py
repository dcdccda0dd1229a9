"""Jobs ride out Lambda throttling: the state machines retry TooManyRequests with jittered backoff.

A stack whose functions each have one execution environment runs many demo jobs at once, so
the tasks are throttled again and again, as a burst throttles them on AWS.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import API_KEY, Client, start_local_stack

JOBS = 12


@pytest.fixture(scope="module")
def one_environment_stack() -> Iterator[LocalStack]:
    # time_scale 0.01: retry intervals start at Step Functions' minimum of 1 s. The bounds keep
    # their deployed values: scaled, they would end the runs before their retries could.
    bounds = {"ExpressJobTimeoutSeconds": "300", "QueuedJobStartTimeoutSeconds": "600"}
    stack = start_local_stack(concurrency=1, time_scale=0.01, parameter_overrides=bounds)
    yield stack
    stack.stop()


def test_every_job_succeeds_although_its_tasks_were_throttled(one_environment_stack: LocalStack) -> None:
    throttled: list[str] = []
    assert one_environment_stack.runtime is not None
    one_environment_stack.runtime.add_listener(
        lambda record: (
            throttled.append(record.function_name) if record.error_type == "TooManyRequestsException" else None
        )
    )
    client = Client(one_environment_stack.api_url, API_KEY)
    # One client, one request at a time: the API function has one environment too. These
    # demo jobs run as Express (no history): the runtime tells which invocations it throttled.
    jobs = [client.submit({"steps": 3, "stepSeconds": 0}) for _ in range(JOBS)]
    ended = [client.wait_until_terminal(job["id"], timeout=240) for job in jobs]

    assert [job["status"] for job in ended] == ["succeeded"] * JOBS, [job.get("error") for job in ended]
    assert "local-demo-step" in throttled, "no task was throttled: the test did not exercise the retry"
    # A first task throttled past SweepIdleSeconds may have been started twice by the
    # sweeper (Express has no idempotent start): each job still ended once.
    for job in jobs:
        events = client.request("GET", f"/jobs/{job['id']}/events").json()["items"]
        assert [e["type"] for e in events].count("job.succeeded") == 1
        assert [e["type"] for e in events].count("job.started") == 1
