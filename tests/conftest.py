"""Shared fixtures: a moto AWS built from template.yaml, tenants, and an API client."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import boto3
import pytest
from moto import mock_aws

from jobgate import aws
from jobgate.observability import shared_metrics
from jobgate.tenants import TenantCredentials, register_tenant
from jobgate_cli.moto_fixes import make_dynamodb_requests_atomic
from jobgate_cli.provision import create_bucket, create_table_from_template
from jobgate_cli.sam_template import global_environment, load_template

REPO = Path(__file__).resolve().parents[1]
EVENTS = REPO / "events"
TEMPLATE = load_template(REPO / "template.yaml")

JOBS_TABLE = "jobgate-test-jobs"
TENANTS_TABLE = "jobgate-test-tenants"
BUCKET = "jobgate-test-artifacts"
STATE_MACHINE_PREFIX = "arn:aws:states:us-east-1:123456789012:stateMachine:jobgate-test-job-"

# What template.yaml gives every function (its parameters at their defaults), with this
# test account's resources, and the tests' own choices.
FUNCTION_ENVIRONMENT = {
    **global_environment(TEMPLATE),
    "JOBS_TABLE_NAME": JOBS_TABLE,
    "TENANTS_TABLE_NAME": TENANTS_TABLE,
    "ARTIFACTS_BUCKET_NAME": BUCKET,
    "STATE_MACHINE_ARN_PREFIX": STATE_MACHINE_PREFIX,
    # No queues here: webhooks are delivered by the local stack's tests (tests/e2e).
    "WEBHOOK_RETRY_QUEUE_URL": "",
    "WEBHOOK_DEAD_LETTER_QUEUE_URL": "",
    # Only the demo type; a test that needs another one adds its module.
    "JOB_TYPE_MODULES": "jobgate.jobtypes.demo",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


def pytest_configure(config: pytest.Config) -> None:
    """Each Lambda function's code directory is a root of its own, as in Lambda: put every
    functions/*/ on sys.path before test modules import them (pyproject's pythonpath has the
    layer and the CLI), so a new function needs no list kept."""
    for code_dir in sorted((REPO / "functions").glob("*/")):
        if not code_dir.name.startswith(("_", ".")) and str(code_dir) not in sys.path:
            sys.path.insert(0, str(code_dir))


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        **FUNCTION_ENVIRONMENT,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


# Test DNS: names the tests use for callbacks, without a network. Everything else resolves as
# usual. A list answers its addresses in turn, the last one from then on (DNS that changes).
FAKE_DNS: dict[str, str | list[str]] = {"hooks.example.com": "93.184.216.34", "hooks.internal.test": "10.0.0.5"}


@pytest.fixture(autouse=True)
def _no_metrics_left_over() -> None:
    """Powertools keeps one process-wide metrics buffer: what a test's code recorded outside a
    handler must not be written by the next test's handler into that test's captured output."""
    shared_metrics().clear_metrics()


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str | list[str]]:
    real_getaddrinfo = socket.getaddrinfo
    names = dict(FAKE_DNS)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in names:
            return real_getaddrinfo(host, port, *args, **kwargs)
        answer = names[host]
        address = (answer.pop(0) if len(answer) > 1 else answer[0]) if isinstance(answer, list) else answer
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def aws_backend() -> Iterator[None]:
    """A fresh moto account with the template's tables, the bucket and the demo state machine."""
    make_dynamodb_requests_atomic()
    # Executions stay RUNNING here (tests drive the tasks themselves), whatever a local
    # stack started earlier in this process configured.
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        aws.reset_clients()
        dynamodb = boto3.client("dynamodb")
        create_table_from_template(dynamodb, TEMPLATE, "JobsTable", JOBS_TABLE)
        create_table_from_template(dynamodb, TEMPLATE, "TenantsTable", TENANTS_TABLE)
        create_bucket(boto3.client("s3"), BUCKET)
        create_state_machine("demo")
        create_state_machine("demo-express", "EXPRESS")
        yield
        aws.reset_clients()


def create_state_machine(job_type: str, machine_type: Literal["STANDARD", "EXPRESS"] = "STANDARD") -> str:
    """A state machine with the name the API derives; moto leaves its executions RUNNING."""
    response = boto3.client("stepfunctions").create_state_machine(
        name=f"jobgate-test-job-{job_type}",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/jobgate-test",
        type=machine_type,
    )
    return response["stateMachineArn"]


@pytest.fixture
def tenant(aws_backend: None) -> TenantCredentials:
    from jobgate import wiring

    return register_tenant(wiring.tenant_store(), "acme")


@pytest.fixture
def other_tenant(aws_backend: None) -> TenantCredentials:
    from jobgate import wiring

    return register_tenant(wiring.tenant_store(), "globex")


@dataclass
class LambdaContext:
    function_name: str = "jobgate-test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:jobgate-test"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/jobgate-test"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()
