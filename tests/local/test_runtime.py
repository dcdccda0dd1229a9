"""The local Lambda runtime: one process per execution environment, timeouts, exits, throttles, stop.

The handlers are tests/fixtures/lambda_runtime/*/: code dirs of their own, as a template's functions have.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobgate_cli.local.metrics import is_not_emf
from jobgate_cli.local.runtime import FunctionError, FunctionRuntime, InvocationRecord, RuntimeStopped, TooManyRequests
from jobgate_cli.local.template_model import LocalFunction, load_local_template
from tests.local.conftest import wait_until

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lambda_runtime"
PROBE = FIXTURES / "probe"
REQUEST_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Generous: only there to turn a hang into a failure.
HANG_SECONDS = 20.0

RuntimeFactory = Callable[..., FunctionRuntime]


def probe(name: str, handler: str, timeout: int = 10, reserved: int | None = None, **environment: str) -> LocalFunction:
    return LocalFunction(
        logical_id=name,
        function_name=f"local-{name}",
        handler=f"runtime_probe.{handler}",
        code_dir=PROBE,
        timeout_seconds=timeout,
        memory_mb=128,
        environment={"PROBE": "probe", **environment},
        reserved_concurrency=reserved,
    )


@pytest.fixture
def make_runtime() -> Iterator[RuntimeFactory]:
    started: list[FunctionRuntime] = []

    def make(*functions: LocalFunction, **settings: Any) -> FunctionRuntime:
        # No preloaded libraries: these handlers use none, and the zygote starts in a blink.
        runtime = FunctionRuntime(
            {f.logical_id: f for f in functions},
            {"AWS_REGION": "us-east-1"},
            **{
                "preload": (),
                **settings,
            },
        )
        started.append(runtime)
        return runtime

    yield make
    for runtime in started:
        runtime.stop()


def alive(pid: int) -> bool:
    """Running (a zombie, not yet reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid not in found and alive(pid):
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def in_threads(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once; each one's result, or the exception it raised."""
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - handed to the test
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "an invocation hung"
    return results


def pids_in(pid_file: Path) -> list[int]:
    return [int(line) for line in pid_file.read_text().split()] if pid_file.exists() else []


def test_concurrent_invocations_get_their_own_answers_and_share_no_state(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(probe("remember", "remember"))
    first, second = in_threads(
        lambda: runtime.invoke("remember", {"caller": "first", "sleep": 0.5}),
        lambda: runtime.invoke("remember", {"caller": "second", "sleep": 0.5}),
    )
    # The handler keeps the event on a class attribute, then sleeps: shared state would answer the other's.
    assert first["event"] == {"caller": "first", "sleep": 0.5}
    assert second["event"] == {"caller": "second", "sleep": 0.5}
    assert first["pid"] != second["pid"]
    assert (first["invocations"], second["invocations"]) == (1, 1)
    # A warm environment is reused, and keeps its own module state.
    third = runtime.invoke("remember", {"caller": "third"})
    assert third["pid"] in (first["pid"], second["pid"])
    assert third["invocations"] == 2
    assert third["event"] == {"caller": "third"}


def test_an_invocation_sees_its_functions_environment_as_it_is_now(make_runtime: RuntimeFactory) -> None:
    function = probe("remember", "remember", PROBE="before")
    runtime = make_runtime(function)
    assert runtime.invoke("remember", {})["probe"] == "before"
    function.environment["PROBE"] = "after"  # as the stack sets API_BASE_URL once the API listens
    answer = runtime.invoke("remember", {})
    assert answer["probe"] == "after"
    assert answer["invocations"] == 2  # the same, warm environment
    assert "PROBE" not in os.environ
    assert answer["cwd"] == str(PROBE)  # Lambda's working directory is the code's (/var/task)


def test_the_context_counts_down_from_the_functions_timeout(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(probe("remember", "remember", timeout=7))
    answer = runtime.invoke("remember", {})
    assert 6000 < answer["remainingMs"] <= 7000
    assert re.fullmatch(REQUEST_ID, answer["requestId"])


def test_an_invocation_past_its_timeout_is_killed_and_reported_as_lambda_reports_it(
    make_runtime: RuntimeFactory, tmp_path: Path
) -> None:
    runtime = make_runtime(probe("sleep", "sleep", timeout=1))
    pid_file = tmp_path / "pids"
    started = time.monotonic()
    with pytest.raises(FunctionError) as timed_out:
        runtime.invoke("sleep", {"seconds": 60, "pidFile": str(pid_file)})
    assert time.monotonic() - started < HANG_SECONDS
    assert timed_out.value.error_type == "Sandbox.Timedout"
    assert re.fullmatch(f"RequestId: {REQUEST_ID} Error: Task timed out after 1.00 seconds", timed_out.value.message)
    assert timed_out.value.payload() == {"errorMessage": timed_out.value.message, "errorType": "Sandbox.Timedout"}
    (pid,) = pids_in(pid_file)
    assert not alive(pid)
    # Not reused: the next invocation gets a new environment.
    assert runtime.invoke("sleep", {"seconds": 0, "pidFile": str(pid_file)}) != pid


def test_the_wire_form_of_a_timeout_is_lambdas_error_payload(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(probe("sleep", "sleep", timeout=1))
    payload, errored = runtime.invoke_json("sleep", '{"seconds": 60}')
    assert errored
    assert re.fullmatch(
        '{"errorMessage": "RequestId: ' + REQUEST_ID + ' Error: Task timed out after 1.00 seconds", '
        '"errorType": "Sandbox.Timedout"}',
        payload,
    )


@pytest.mark.parametrize(
    ("handler", "event", "reason"),
    [
        ("exit_", {"code": 3}, "Runtime exited with error: exit status 3"),
        ("kill_self", {}, "Runtime exited with error: signal: killed"),
        ("exit_", {"code": 0}, "Runtime exited without providing a reason"),
    ],
)
def test_a_worker_that_dies_is_reported_as_a_runtime_exit_error(
    make_runtime: RuntimeFactory, handler: str, event: dict[str, Any], reason: str
) -> None:
    runtime = make_runtime(probe("dies", handler), probe("remember", "remember"))
    started = time.monotonic()
    with pytest.raises(FunctionError) as died:
        runtime.invoke("dies", event)
    assert time.monotonic() - started < HANG_SECONDS
    assert died.value.error_type == "Runtime.ExitError"
    assert re.fullmatch(f"RequestId: {REQUEST_ID} Error: {reason}", died.value.message)
    assert runtime.invoke("remember", {"after": "death"})["event"] == {"after": "death"}


def test_a_handler_error_is_the_exceptions_type_message_and_stack(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(probe("fail", "fail"))
    with pytest.raises(FunctionError) as failed:
        runtime.invoke("fail", {"message": "no such order"})
    payload = failed.value.payload()
    assert (payload["errorType"], payload["errorMessage"]) == ("LookupError", "no such order")
    assert any("runtime_probe.py" in frame and "in fail" in frame for frame in payload["stackTrace"])
    assert not any("lambda_worker" in frame for frame in payload["stackTrace"])


def test_a_response_that_is_not_json_is_a_marshal_error(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(probe("unmarshallable", "unmarshallable"))
    with pytest.raises(FunctionError) as failed:
        runtime.invoke("unmarshallable", {})
    assert failed.value.error_type == "Runtime.MarshalError"
    assert failed.value.message == "Unable to marshal response: Object of type set is not JSON serializable"


def test_init_errors_are_reported_as_lambdas_python_runtime_reports_them(make_runtime: RuntimeFactory) -> None:
    missing_module = LocalFunction("missing", "local-missing", "no_such_module.handler", PROBE, 3, 128, {})
    missing_handler = LocalFunction("nohandler", "local-nohandler", "runtime_probe.nowhere", PROBE, 3, 128, {})
    raising = LocalFunction("broken", "local-broken", "runtime_broken.handler", FIXTURES / "broken", 3, 128, {})
    runtime = make_runtime(missing_module, missing_handler, raising)
    errors = []
    for name in ("missing", "nohandler", "broken"):
        with pytest.raises(FunctionError) as failed:
            runtime.invoke(name, {})
        errors.append((failed.value.error_type, failed.value.message))
    assert errors == [
        ("Runtime.ImportModuleError", "Unable to import module 'no_such_module': No module named 'no_such_module'"),
        ("Runtime.HandlerNotFound", "Handler 'nowhere' missing on module 'runtime_probe'"),
        ("RuntimeError", "no configuration at import"),
    ]


def test_invocations_past_the_concurrency_limit_are_throttled(make_runtime: RuntimeFactory, tmp_path: Path) -> None:
    runtime = make_runtime(probe("sleep", "sleep"), concurrency=2)
    pid_file = tmp_path / "pids"
    records: list[InvocationRecord] = []
    runtime.add_listener(records.append)
    sleepers = threading.Thread(
        target=in_threads,
        args=[lambda: runtime.invoke("sleep", {"seconds": 1.5, "pidFile": str(pid_file)})] * 2,
    )
    sleepers.start()
    wait_until(lambda: len(pids_in(pid_file)) == 2, "two invocations running")
    with pytest.raises(TooManyRequests) as throttled:
        runtime.invoke("sleep", {"seconds": 0, "pidFile": str(pid_file)})
    assert (throttled.value.error_code, throttled.value.reason) == (
        "TooManyRequestsException",
        "ConcurrentInvocationLimitExceeded",
    )
    assert throttled.value.message == "Rate Exceeded."
    assert len(pids_in(pid_file)) == 2  # nothing ran
    assert runtime.concurrent_executions("sleep") == 2
    sleepers.join(HANG_SECONDS)
    assert runtime.concurrent_executions("sleep") == 0
    assert runtime.invoke("sleep", {"seconds": 0}) in pids_in(pid_file)
    assert [r.error_type for r in records].count("TooManyRequestsException") == 1


def test_reserved_concurrency_is_the_functions_limit(make_runtime: RuntimeFactory, tmp_path: Path) -> None:
    runtime = make_runtime(probe("sleep", "sleep", reserved=1), probe("off", "sleep", reserved=0), concurrency=5)
    pid_file = tmp_path / "pids"
    sleeper = threading.Thread(target=runtime.invoke, args=("sleep", {"seconds": 1.5, "pidFile": str(pid_file)}))
    sleeper.start()
    wait_until(lambda: pids_in(pid_file), "one invocation running")
    with pytest.raises(TooManyRequests) as throttled:
        runtime.invoke("sleep", {"seconds": 0})
    assert throttled.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    sleeper.join(HANG_SECONDS)
    # ReservedConcurrentExecutions 0: the function is switched off.
    with pytest.raises(TooManyRequests) as off:
        runtime.invoke("off", {"seconds": 0})
    assert off.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_the_workers_output_reaches_the_console(
    make_runtime: RuntimeFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = make_runtime(probe("say", "say"))
    runtime.invoke("say", {"out": '{"level":"INFO","message":"to stdout"}', "err": "to stderr"})
    seen = {"out": "", "err": ""}

    def printed() -> bool:
        captured = capsys.readouterr()
        seen["out"] += captured.out
        seen["err"] += captured.err
        return "to stdout" in seen["out"] and "to stderr" in seen["err"]

    wait_until(printed, "the handler's output")
    assert '{"level":"INFO","message":"to stdout"}\n' in seen["out"]
    assert "to stderr" not in seen["out"]


def test_each_stdout_line_reaches_the_line_listeners_and_metrics_lines_can_stay_off_the_console(
    make_runtime: RuntimeFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = make_runtime(probe("say", "say"), echo_line=is_not_emf)
    lines: list[tuple[str, bytes]] = []
    runtime.add_line_listener(lambda function_name, line: lines.append((function_name, line)))
    emf = '{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]}}'
    runtime.invoke("say", {"out": f'{emf}\n{{"level":"INFO","message":"to stdout"}}', "err": "to stderr"})
    seen = {"out": ""}

    def printed() -> bool:
        seen["out"] += capsys.readouterr().out
        return "to stdout" in seen["out"]

    wait_until(printed, "the handler's output")
    assert lines == [("local-say", emf.encode()), ("local-say", b'{"level":"INFO","message":"to stdout"}')]
    assert "_aws" not in seen["out"]


def test_each_invocation_has_a_trace_header_of_its_own_as_with_active_tracing(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(probe("remember", "remember"))
    first, second = (runtime.invoke("remember", {})["traceHeader"] for _ in range(2))
    header = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1")
    assert header.fullmatch(first)
    assert header.fullmatch(second)
    assert first != second
    assert "_X_AMZN_TRACE_ID" not in os.environ


def test_idle_environments_are_reclaimed(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(probe("remember", "remember"), idle_seconds=0.3)
    records: list[InvocationRecord] = []
    runtime.add_listener(records.append)
    first = runtime.invoke("remember", {})
    wait_until(lambda: not alive(first["pid"]), "the idle environment to end")
    second = runtime.invoke("remember", {})
    assert second["invocations"] == 1
    assert [r.cold_start for r in records] == [True, True]


def test_stop_ends_every_worker_and_the_zygote(make_runtime: RuntimeFactory, tmp_path: Path) -> None:
    before = descendants(os.getpid())
    runtime = make_runtime(probe("sleep", "sleep"), probe("remember", "remember"))
    runtime.invoke("remember", {})
    pid_file = tmp_path / "pids"
    in_flight: list[Any] = []
    sleeper = threading.Thread(
        target=lambda: in_flight.extend(
            in_threads(
                lambda: runtime.invoke(
                    "sleep",
                    {
                        "seconds": 60,
                        "pidFile": str(pid_file),
                    },
                )
            )
        )
    )
    sleeper.start()
    wait_until(lambda: pids_in(pid_file), "an invocation in flight")
    assert len(descendants(os.getpid()) - before) == 3  # the zygote and two workers
    started = time.monotonic()
    runtime.stop()
    assert time.monotonic() - started < 10
    sleeper.join(HANG_SECONDS)
    assert descendants(os.getpid()) - before == set()
    (error,) = in_flight
    assert isinstance(error, FunctionError)
    assert error.error_type == "Runtime.ExitError"
    with pytest.raises(RuntimeStopped):
        runtime.invoke("remember", {})


def test_reserved_concurrency_is_read_from_the_function_or_its_globals(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    template = tmp_path / "template.yaml"
    template.write_text(
        """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    CodeUri: fn
    ReservedConcurrentExecutions: 7
Resources:
  FromGlobals:
    Type: AWS::Serverless::Function
    Properties: {Handler: a.handler}
  OwnValue:
    Type: AWS::Serverless::Function
    Properties: {Handler: a.handler, ReservedConcurrentExecutions: 2}
"""
    )
    functions = load_local_template(template).functions
    assert functions["FromGlobals"].reserved_concurrency == 7
    assert functions["OwnValue"].reserved_concurrency == 2
