"""Fixtures for the local event sources: an in-process moto AWS, functions that record what they get."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from jobgate_cli.local.dynamodb_local import DynamoDBLocal
from jobgate_cli.local.endpoints import LocalEndpoints
from jobgate_cli.moto_fixes import make_dynamodb_requests_atomic

# Long enough for a slow CI machine; waits end as soon as the condition holds.
DEADLINE_SECONDS = 10.0


def wait_until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE_SECONDS) -> Any:
    """Poll until `condition()` is truthy and return its value; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class RecordingFunction:
    """A Lambda handler stand-in: keeps every event it was invoked with and runs `behaviour` on it.

    `behaviour` may raise (a function error) or return the function's response.
    """

    def __init__(self, behaviour: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self._behaviour = behaviour
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> Any:
        # A real invocation gets a JSON payload: fail here if the event would not serialize.
        event = json.loads(json.dumps(event))
        with self._lock:
            self.events.append(event)
        return self._behaviour(event) if self._behaviour else None

    @property
    def batches(self) -> list[list[dict[str, Any]]]:
        with self._lock:
            return [list(event["Records"]) for event in self.events]


class FailingAtFirstRuntime:
    """The slice of FunctionRuntime the event bus uses: its first `times` invocations raise
    `error(function name)` (a throttle, a function error), the next ones run."""

    def __init__(self, times: int, error: Callable[[str], Exception]) -> None:
        self.times = times
        self._error = error
        self.invocations: list[dict[str, Any]] = []
        self.delivered = threading.Event()

    def invoke(self, name: str, event: dict[str, Any]) -> None:
        self.invocations.append(event)
        if len(self.invocations) <= self.times:
            raise self._error(name)
        self.delivered.set()


@pytest.fixture(scope="module")
def dynamodb_local() -> Iterator[LocalEndpoints]:
    """A DynamoDB Local of the module's own (its other endpoints lead nowhere)."""
    server = DynamoDBLocal()
    server.start()
    yield LocalEndpoints(aws="http://127.0.0.1:1", dynamodb=server.url)
    server.stop()


@pytest.fixture
def aws() -> Iterator[None]:
    make_dynamodb_requests_atomic()
    with mock_aws():
        yield


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs")


def create_queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    """A queue's (url, arn)."""
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Receive (and delete) what is visible in a queue now."""
    messages: list[dict[str, Any]] = []
    while True:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not received:
            return messages
        for message in received:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(received)
