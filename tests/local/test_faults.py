"""JOBGATE_FAULTS: parsing, and what each fault does to a real botocore client."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import handlers
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws

from jobgate.aws import is_backpressure
from jobgate_cli.local.faults import (
    FAULTS_PRELOAD,
    FaultInjector,
    FaultRule,
    FunctionFaults,
    InvalidFaults,
    install,
    parse_faults,
)
from jobgate_cli.local.lambda_worker import LambdaContext
from jobgate_cli.local.runtime import FunctionError, FunctionRuntime, InvocationRecord
from tests.local.test_runtime import REQUEST_ID, alive, pids_in, probe

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1, "mode": "standard"}, region_name="us-east-1")


def test_a_spec_lists_rules_and_star_means_every_service() -> None:
    assert parse_faults("dynamodb.TransactWriteItems:lost-answer=0.1, sfn:throttle=1") == [
        FaultRule("dynamodb", "TransactWriteItems", "lost-answer", 0.1),
        FaultRule("sfn", None, "throttle", 1.0),
    ]
    assert {rule.service for rule in parse_faults("*:error=0.01")} == {"dynamodb", "sfn", "sqs", "s3"}
    assert parse_faults("") == []


def test_a_spec_names_functions_to_crash_or_time_out_and_star_leaves_them_alone() -> None:
    assert parse_faults("lambda:crash=0.05,lambda.local-demo-step:timeout=0.1") == [
        FaultRule("lambda", None, "crash", 0.05),
        FaultRule("lambda", "local-demo-step", "timeout", 0.1),
    ]
    assert "lambda" not in {rule.service for rule in parse_faults("*:timeout=0.01")}


@pytest.mark.parametrize(
    "spec",
    ["lambda:throttle=0.1", "dynamodb:crash=0.1", "dynamodb:explode=0.1", "s3:error=2", "s3:error=x", "s3", "ec2:x=1"],
)
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


# ---------------------------------------------------------------- crashes and timeouts of the functions


class Struck(Exception):
    """What the fake crash and hang raise, so a test sees where a fault struck."""


def context_of(function_name: str, seconds_left: float = 3.0) -> LambdaContext:
    return LambdaContext(function_name, 128, f"arn:{function_name}", "request", time.monotonic() + seconds_left)


def function_faults(spec: str, chances: list[float], point: int, hung: list[float]) -> FunctionFaults:
    def crash() -> None:
        raise Struck("crash")

    def hang(seconds: float) -> None:
        hung.append(seconds)
        raise Struck("timeout")

    draws = iter(chances)
    return FunctionFaults(
        parse_faults(spec), chance=lambda: next(draws), strike_point=lambda: point, crash=crash, hang=hang
    )


def calls_until_struck(faults: FunctionFaults, function_name: str, aws_calls: int) -> tuple[int, str | None]:
    """One invocation making `aws_calls` calls: how many went out, and which fault struck (if any)."""
    made = 0
    try:
        faults.started(context_of(function_name))
        for _ in range(aws_calls):
            faults.before_call()
            made += 1
        faults.finished()
    except Struck as struck:
        return made, str(struck)
    return made, None


def test_a_function_fault_strikes_before_its_chosen_call_or_after_the_handler() -> None:
    hung: list[float] = []
    assert calls_until_struck(function_faults("lambda:crash=1", [0.0], 2, hung), "local-a", 5) == (1, "crash")
    # Fewer calls than the strike point: the work is done, and its answer is lost.
    assert calls_until_struck(function_faults("lambda:crash=1", [0.0], 4, hung), "local-a", 2) == (2, "crash")


def test_a_function_fault_fires_at_its_rate_once_per_invocation_and_only_for_its_function() -> None:
    hung: list[float] = []
    faults = function_faults("lambda.local-a:timeout=0.1", [0.05, 0.5], 1, hung)
    assert calls_until_struck(faults, "local-a", 3) == (0, "timeout")
    assert calls_until_struck(faults, "local-a", 3) == (3, None)  # drew 0.5: not this time
    assert calls_until_struck(faults, "local-b", 3) == (3, None)  # not asked: no draw at all
    # It hangs past what is left of the invocation: the runtime's Timeout ends it.
    assert len(hung) == 1
    assert hung[0] > 3.0


@pytest.fixture
def function_fault_runtime(tmp_path: Path) -> Iterator[tuple[FunctionRuntime, Path, list[InvocationRecord]]]:
    record = tmp_path / "injected.txt"
    runtime = FunctionRuntime(
        {name: probe(name, "sleep", timeout=1) for name in ("crashes", "hangs", "spared")},
        {"AWS_REGION": "us-east-1"},
        preload=(FAULTS_PRELOAD,),
        zygote_environment={
            "JOBGATE_FAULTS": "lambda.local-crashes:crash=1,lambda.local-hangs:timeout=1",
            "JOBGATE_FAULT_RECORD": str(record),
        },
    )
    invocations: list[InvocationRecord] = []
    runtime.add_listener(invocations.append)
    yield runtime, record, invocations
    runtime.stop()


def test_a_crashed_function_is_a_runtime_exit_and_its_environment_is_replaced(
    function_fault_runtime: tuple[FunctionRuntime, Path, list[InvocationRecord]], tmp_path: Path
) -> None:
    runtime, record, invocations = function_fault_runtime
    pid_file = tmp_path / "pids"
    for _ in range(2):
        with pytest.raises(FunctionError) as crashed:
            runtime.invoke("crashes", {"seconds": 0, "pidFile": str(pid_file)})
        assert crashed.value.error_type == "Runtime.ExitError"
        reason = "Runtime exited with error: exit status 1"
        assert re.fullmatch(f"RequestId: {REQUEST_ID} Error: {reason}", crashed.value.message)
    # The handler ran (its pid is written), then its process died before answering; never reused.
    first, second = pids_in(pid_file)
    assert first != second
    assert not alive(first)
    assert not alive(second)
    assert [invocation.cold_start for invocation in invocations] == [True, True]
    assert runtime.invoke("spared", {"seconds": 0}) > 0
    assert record.read_text().splitlines() == ["lambda.local-crashes crash"] * 2


def test_a_hung_function_is_cut_off_at_its_timeout_as_lambda_reports_it(
    function_fault_runtime: tuple[FunctionRuntime, Path, list[InvocationRecord]], tmp_path: Path
) -> None:
    runtime, record, _ = function_fault_runtime
    pid_file = tmp_path / "pids"
    with pytest.raises(FunctionError) as timed_out:
        runtime.invoke("hangs", {"seconds": 0, "pidFile": str(pid_file)})
    assert timed_out.value.error_type == "Sandbox.Timedout"
    assert re.fullmatch(f"RequestId: {REQUEST_ID} Error: Task timed out after 1.00 seconds", timed_out.value.message)
    (pid,) = pids_in(pid_file)
    assert not alive(pid)
    assert record.read_text().splitlines() == ["lambda.local-hangs timeout"]
