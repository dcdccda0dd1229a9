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
    # time_scale 0.01: retry intervals start at Step Functions' minimum of 1 s.
    stack = start_local_stack(concurrency=1, time_scale=0.01)
    yield stack
    stack.stop()


def throttles_in_history(stack: LocalStack, job_id: str) -> int:
    execution_arn = f"arn:aws:states:us-east-1:123456789012:execution:local-job-demo:{job_id}"
    events = stack.endpoints.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return sum(
        1
        for event in events
        if event.get("taskFailedEventDetails", event.get("lambdaFunctionFailedEventDetails", {})).get("error")
        == "Lambda.TooManyRequestsException"
    )


def test_every_job_succeeds_although_its_tasks_were_throttled(one_environment_stack: LocalStack) -> None:
    client = Client(one_environment_stack.api_url, API_KEY)
    # One client, one request at a time: the API function has one environment too.
    jobs = [client.submit({"steps": 3, "stepSeconds": 0}) for _ in range(JOBS)]
    ended = [client.wait_until_terminal(job["id"], timeout=240) for job in jobs]

    assert [job["status"] for job in ended] == ["succeeded"] * JOBS, [job.get("error") for job in ended]
    throttles = sum(throttles_in_history(one_environment_stack, job["id"]) for job in jobs)
    assert throttles > 0, "no task was throttled: the test did not exercise the retry"
