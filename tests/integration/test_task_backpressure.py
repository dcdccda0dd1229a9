"""A task whose AWS dependency stays throttled or silent past botocore's retries is retried, not fatal.

The tasks run as statemachines/demo.asl.json runs them: an error whose name one of the state's
retriers lists is tried again, any other error goes to the state's Catch (the job fails).
The faults are real botocore failures (tests/faults.py), three in a row: all of botocore's
attempts at one call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from botocore.exceptions import ClientError

import demo_step
from jobgate import aws
from jobgate.task_handlers import retried_when_aws_is_busy
from jobgate.tenants import TenantCredentials
from tests.api import ApiClient
from tests.conftest import REPO, TEMPLATE, LambdaContext
from tests.faults import answer_error, time_out
from tests.unit.test_state_machine_retries import definition
from tests.workflow import lifecycle

DEMO = definition(REPO / "statemachines" / "demo.asl.json")["States"]
BOTOCORE_ATTEMPTS = 3
JOB_INPUT = {"steps": 1, "stepSeconds": 0}

Fault = Callable[[Any], AbstractContextManager[list[int]]]
FAULTS: dict[str, Fault] = {
    "throttled read": lambda client: answer_error(
        client, "GetItem", "ProvisionedThroughputExceededException", times=BOTOCORE_ATTEMPTS
    ),
    "read timeout": lambda client: time_out(client, "GetItem", times=BOTOCORE_ATTEMPTS),
    # A change that does not end the job is a PutItem; the success is a transaction.
    "throttled put": lambda client: answer_error(
        client, "PutItem", "ProvisionedThroughputExceededException", times=BOTOCORE_ATTEMPTS
    ),
    "throttled transaction": lambda client: answer_error(
        client, "TransactWriteItems", "ThrottlingException", times=BOTOCORE_ATTEMPTS
    ),
}


def as_the_state_runs_it(state: str, task: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run the task under the state's retriers: only the error names they list are tried again."""
    retriers = DEMO[state]["Retry"]
    attempts = dict.fromkeys(range(len(retriers)), 0)
    while True:
        try:
            return task()
        except Exception as error:
            matching = [i for i, r in enumerate(retriers) if type(error).__name__ in r["ErrorEquals"]]
            if not matching or attempts[matching[0]] >= retriers[matching[0]]["MaxAttempts"]:
                raise  # to the state's Catch: MarkFailed
            attempts[matching[0]] += 1


def run_step(job_id: str) -> dict[str, Any]:
    output: dict[str, Any] = demo_step.handler(
        {"jobId": job_id, "input": JOB_INPUT, "stepIndex": 0},
        LambdaContext(function_name="jobgate-demo-step"),  # type: ignore[arg-type]
    )
    return output


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_task_whose_dependency_stays_busy_is_retried_and_the_job_succeeds(
    tenant: TenantCredentials, fault: str
) -> None:
    """One step: the demo's RunStep starts the job, runs its step and succeeds it."""
    client = ApiClient(tenant.api_key)
    job_id = client.submit(JOB_INPUT).json["id"]
    with FAULTS[fault](aws.dynamodb()) as injected:
        as_the_state_runs_it("RunStep", lambda: run_step(job_id))
    assert injected[0] == BOTOCORE_ATTEMPTS  # the first run of the task met all of them
    job = client.get(f"/jobs/{job_id}").json
    assert job["status"] == "succeeded"
    assert job["progress"]["steps"][0]["status"] == "succeeded"


def test_an_aws_error_that_is_not_backpressure_still_fails_the_task(tenant: TenantCredentials) -> None:
    client = ApiClient(tenant.api_key)
    job_id = client.submit(JOB_INPUT).json["id"]
    lifecycle("start", job_id)
    with answer_error(aws.dynamodb(), "GetItem", "ValidationException"), pytest.raises(ClientError) as raised:
        as_the_state_runs_it("RunStep", lambda: run_step(job_id))
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert client.get(f"/jobs/{job_id}").json["status"] == "running"


def state_machine_tasks() -> list[str]:
    """The logical ids of the functions any state machine of the template invokes."""
    tasks = set()
    for resource in TEMPLATE["Resources"].values():
        if resource["Type"] == "AWS::Serverless::StateMachine":
            for value in resource["Properties"].get("DefinitionSubstitutions", {}).values():
                if isinstance(value, dict) and "Fn::GetAtt" in value:
                    tasks.add(value["Fn::GetAtt"][0])
    return sorted(tasks)


@pytest.mark.parametrize("function", state_machine_tasks())
def test_every_task_function_turns_backpressure_into_the_retried_error(function: str) -> None:
    handler_name = TEMPLATE["Resources"][function]["Properties"]["Handler"]
    module_name, _, attribute = handler_name.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    layers = []
    while handler is not None:
        layers.append(handler.__code__)
        handler = getattr(handler, "__wrapped__", None)
    assert retried_when_aws_is_busy(lambda: None).__code__ in layers, function
