"""The local runtime's limits as each caller sees them, against a real local stack.

Runs tests/e2e/fixtures/lambda_runtime/template.yaml: a function with ReservedConcurrentExecutions
1 and one with a 1 s Timeout, called by Step Functions, the Lambda Invoke API and the HTTP API.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from jobgate_cli.local.stack import LocalStack, LocalStackConfig
from tests.e2e.conftest import aws_clients, eventually

FIXTURE = Path(__file__).parent / "fixtures" / "lambda_runtime" / "template.yaml"
REQUEST_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

Aws = Callable[[str], Any]


@pytest.fixture(scope="module")
def limits_stack() -> Iterator[LocalStack]:
    stack = LocalStack(LocalStackConfig(template_path=FIXTURE, port=0, aws_port=0))
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def aws(limits_stack: LocalStack) -> Aws:
    return aws_clients(limits_stack)


def running(stack: LocalStack, function: str) -> int:
    assert stack.runtime is not None
    return stack.runtime.concurrent_executions(function)


def test_step_functions_see_throttles_and_timeouts_as_on_aws(aws: Aws) -> None:
    stepfunctions = aws("stepfunctions")
    machine = next(m for m in stepfunctions.list_state_machines()["stateMachines"] if m["name"] == "local-limits")
    execution = stepfunctions.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
    described = eventually(
        lambda: stepfunctions.describe_execution(executionArn=execution["executionArn"]),
        lambda d: d["status"] != "RUNNING",
    )
    assert described["status"] == "SUCCEEDED", described
    held, by_arn, by_integration, retried, timed_out = json.loads(described["output"])
    assert held == {"ran": True}
    # Throttled while the one reserved environment was busy, whichever way the task names Lambda.
    for throttled in (by_arn, by_integration):
        assert throttled["Error"] == "Lambda.TooManyRequestsException"
        assert throttled["Cause"].startswith("Rate Exceeded. (Service: AWSLambda; Status Code: 429; ")
        assert "Error Code: TooManyRequestsException" in throttled["Cause"]
    # ... and a Retry on it succeeds once the environment is free.
    assert retried == {"ran": True}
    assert timed_out["Error"] == "Sandbox.Timedout"
    cause = json.loads(timed_out["Cause"])
    assert cause["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(f"RequestId: {REQUEST_ID} Error: Task timed out after 1.00 seconds", cause["errorMessage"])


def test_the_invoke_api_answers_429_with_lambdas_reason(limits_stack: LocalStack) -> None:
    # No SDK retries: boto3 would retry the throttle (as it does against AWS) until the holder is done.
    lambda_client = boto3.client(
        "lambda",
        endpoint_url=limits_stack.aws_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}),
    )
    holder = threading.Thread(
        target=lambda_client.invoke, kwargs={"FunctionName": "local-slow", "Payload": json.dumps({"seconds": 2})}
    )
    holder.start()
    eventually(lambda: running(limits_stack, "local-slow"), lambda n: n == 1)
    with pytest.raises(ClientError) as throttled:
        lambda_client.invoke(FunctionName="local-slow", Payload=json.dumps({"seconds": 0}))
    holder.join(30)
    error: dict[str, Any] = dict(throttled.value.response)  # botocore's type leaves out the modelled Reason
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_the_invoke_api_reports_function_errors_as_unhandled(aws: Aws) -> None:
    response = aws("lambda").invoke(FunctionName="local-failing", Payload=json.dumps({"message": "no such order"}))
    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert (payload["errorType"], payload["errorMessage"]) == ("LookupError", "no such order")


def test_the_http_api_answers_a_throttled_function_as_api_gateway_does(limits_stack: LocalStack) -> None:
    url = f"{limits_stack.api_url}/slow"
    answers: list[requests.Response] = []
    holder = threading.Thread(target=lambda: answers.append(requests.get(url, params={"seconds": 2}, timeout=30)))
    holder.start()
    eventually(lambda: running(limits_stack, "local-slow-api"), lambda n: n == 1)
    throttled = requests.get(url, params={"seconds": 0}, timeout=30)
    holder.join(30)
    assert (throttled.status_code, throttled.json()) == (500, {"message": "Internal Server Error"})
    (held,) = answers
    assert held.status_code == 200
    assert isinstance(held.json(), int)
