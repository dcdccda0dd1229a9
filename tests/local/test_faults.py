"""JOBGATE_FAULTS: parsing, and what each fault does to a real botocore client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import handlers
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws

from jobgate.aws import is_backpressure
from jobgate_cli.local.faults import FaultInjector, FaultRule, InvalidFaults, install, parse_faults

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1, "mode": "standard"}, region_name="us-east-1")


def test_a_spec_lists_rules_and_star_means_every_service() -> None:
    assert parse_faults("dynamodb.TransactWriteItems:lost-answer=0.1, sfn:throttle=1") == [
        FaultRule("dynamodb", "TransactWriteItems", "lost-answer", 0.1),
        FaultRule("sfn", None, "throttle", 1.0),
    ]
    assert {rule.service for rule in parse_faults("*:error=0.01")} == {"dynamodb", "sfn", "sqs", "s3"}
    assert parse_faults("") == []


@pytest.mark.parametrize("spec", ["lambda:throttle=0.1", "dynamodb:explode=0.1", "s3:error=2", "s3:error=x", "s3"])
def test_a_bad_spec_is_refused_with_the_entry_named(spec: str) -> None:
    with pytest.raises(InvalidFaults, match=re.escape(repr(spec))):
        parse_faults(spec)


@pytest.fixture
def aws_account() -> Iterator[None]:
    with mock_aws():
        yield


def hooked(client: Any, injector: FaultInjector) -> Any:
    client.meta.events.register_first("before-send", injector)
    return client


def client_with(service: str, spec: str, **injector: Any) -> Any:
    client = boto3.client(service, config=ONE_ATTEMPT)  # type: ignore[call-overload]
    return hooked(client, FaultInjector(parse_faults(spec), **injector))


@pytest.mark.usefixtures("aws_account")
@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("dynamodb", lambda c: c.list_tables(), "ProvisionedThroughputExceededException"),
        ("stepfunctions", lambda c: c.list_state_machines(), "ThrottlingException"),
        ("sqs", lambda c: c.list_queues(), "RequestThrottled"),
        ("s3", lambda c: c.list_buckets(), "SlowDown"),
    ],
)
def test_a_throttle_is_the_services_own_throttling_error(service: str, call: Any, code: str) -> None:
    name = {"stepfunctions": "sfn"}.get(service, service)
    with pytest.raises(ClientError) as raised:
        call(client_with(service, f"{name}:throttle=1"))
    assert raised.value.response["Error"]["Code"] == code
    assert is_backpressure(raised.value)


@pytest.mark.usefixtures("aws_account")
def test_an_error_is_a_500() -> None:
    with pytest.raises(ClientError) as raised:
        client_with("dynamodb", "dynamodb:error=1").list_tables()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


@pytest.mark.usefixtures("aws_account")
def test_a_timeout_sends_nothing_and_a_lost_answer_sends_the_call_first() -> None:
    sent: list[str] = []
    with pytest.raises(ReadTimeoutError):
        client_with("dynamodb", "dynamodb:timeout=1", send=lambda request: sent.append(request.url)).list_tables()
    assert sent == []
    with pytest.raises(ReadTimeoutError):
        client_with("dynamodb", "dynamodb:lost-answer=1", send=lambda request: sent.append(request.url)).list_tables()
    assert len(sent) == 1


@pytest.mark.usefixtures("aws_account")
def test_latency_delays_the_call_which_then_succeeds() -> None:
    injector = FaultInjector(parse_faults("dynamodb:latency=1"), latency_seconds=0.01)
    client = hooked(boto3.client("dynamodb", config=ONE_ATTEMPT), injector)
    assert client.list_tables()["TableNames"] == []
    assert injector.injected["latency"] == 1


@pytest.mark.usefixtures("aws_account")
def test_a_rule_fires_at_its_rate_and_only_for_its_operation() -> None:
    chances = iter([0.05, 0.5, 0.05])
    recorded: list[str] = []
    injector = FaultInjector(
        parse_faults("dynamodb.ListTables:throttle=0.1"), chance=lambda: next(chances), record=recorded.append
    )
    client = hooked(boto3.client("dynamodb", config=ONE_ATTEMPT), injector)
    outcomes = []
    for _ in range(3):
        try:
            client.list_tables()
            outcomes.append("ok")
        except ClientError:
            outcomes.append("throttled")
    client.describe_limits()  # another operation: never asked
    assert outcomes == ["throttled", "ok", "throttled"]
    assert injector.injected["throttle"] == 2
    assert recorded == ["dynamodb.ListTables throttle"] * 2


def test_install_hooks_every_session_made_afterwards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "BUILTIN_HANDLERS", list(handlers.BUILTIN_HANDLERS))
    assert install({}) is None
    injector = install({"JOBGATE_FAULTS": "dynamodb:throttle=1"})
    assert injector is not None
    with pytest.raises(ClientError):
        # Nothing listens there: only the injected answer can come back.
        boto3.session.Session().client("dynamodb", config=ONE_ATTEMPT, endpoint_url="http://127.0.0.1:9").list_tables()
    assert injector.injected["throttle"] == 1
