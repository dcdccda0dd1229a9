"""Runs the template's Lambda functions as Lambda does: one process per execution environment.

Each environment is a worker process (see `lambda_worker`) forked from a preloaded zygote. It
imports its function's handler once (the cold start) and serves one invocation at a time, so
concurrent invocations share no module, class or library state (Powertools keeps the current
event on a class attribute), and Python work runs on as many cores as there are environments.

As on Lambda:
- each invocation runs with its function's environment in `os.environ` (read per invocation:
  the stack sets API_BASE_URL after the functions are loaded);
- an invocation still running at the function's `Timeout` has its process killed and reports
  `Sandbox.Timedout`; a process that dies reports `Runtime.ExitError`; neither is reused;
- at most `concurrency` environments of a function run at once (fewer with the template's
  `ReservedConcurrentExecutions`); one more invocation is refused at once with
  `TooManyRequests` (Lambda's HTTP 429 TooManyRequestsException), and nothing runs;
- warm environments are reused, the most recently used first, and ended after `idle_seconds`.

The workers' stdout and stderr (Powertools' JSON logs) are copied to this process's (unless
`echo_output` is off), and their sizes told to the output listeners (the meter's log bytes);
each whole line of stdout is told to the line listeners (the local metrics, `metrics.py`).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import jobgate
from jobgate_cli.local.lambda_worker import READY, SPAWN, STATUS, receive_frame, send_frame

if TYPE_CHECKING:
    from jobgate_cli.local.template_model import LocalFunction

InvocationListener = Callable[["InvocationRecord"], None]
# (function name, bytes the function wrote to stdout or stderr)
OutputListener = Callable[[str, int], None]
# (function name, one whole line the function wrote to stdout, without its newline)
LineListener = Callable[[str, bytes], None]

DEFAULT_CONCURRENCY: Final = 32
DEFAULT_IDLE_SECONDS: Final = 60.0
# Lambda's init phase has 10 s of its own; an init that takes longer eats into the Timeout.
INIT_SECONDS: Final = 10.0
# How long stop() lets workers end on SIGTERM before it kills them.
STOP_GRACE_SECONDS: Final = 1.0
# Set by the console (`--verbose`), which decides how much the functions log.
CONSOLE_VARIABLES: Final = ("POWERTOOLS_LOG_LEVEL",)
# Libraries the functions share, imported once in the zygote. The jobgate layer is added module
# by module, except jobgate.observability: its Logger reads the function's environment at import.
# Not aws_xray_sdk either: its recorder decides at import whether it runs in Lambda (LAMBDA_TASK_ROOT).
SHARED_LIBRARIES: Final = (
    "boto3",
    "botocore.session",
    "botocore.client",
    "botocore.config",
    "requests",
    "pydantic",
    "ulid",
    "aws_lambda_powertools",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.event_handler.openapi.models",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.utilities.typing",
)
_NOT_PRELOADED: Final = frozenset({"jobgate.observability"})
# The AWS services the functions call: their boto3 models are loaded once, in the zygote.
BOTO3_SERVICES: Final = ("dynamodb", "dynamodbstreams", "s3", "sqs", "stepfunctions")
# Lambda with active tracing gives each invocation its X-Ray trace header here; Powertools' Logger
# logs it as `xray_trace_id`. There is no X-Ray locally: the SDK's segments go to a UDP port
# where no daemon listens, and are lost.
TRACE_VARIABLE: Final = "_X_AMZN_TRACE_ID"
_ZYGOTE_START_SECONDS: Final = 120.0
_ZYGOTE_CODE: Final = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from jobgate_cli.local.lambda_worker import zygote_main; "
    "zygote_main(int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4]))"
)


class FunctionError(Exception):
    """The invocation failed; carries Lambda's error payload ({errorMessage, errorType, stackTrace})."""

    def __init__(self, function_name: str, error_type: str, message: str, stack_trace: list[str] | None) -> None:
        super().__init__(f"{function_name}: {error_type}: {message}")
        self.function_name = function_name
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace

    @classmethod
    def from_payload(cls, function_name: str, payload: Mapping[str, Any]) -> FunctionError:
        return cls(function_name, str(payload["errorType"]), str(payload["errorMessage"]), payload.get("stackTrace"))

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"errorMessage": self.message, "errorType": self.error_type}
        if self.stack_trace is not None:  # Lambda's own errors (timeouts, exits) carry none
            payload["stackTrace"] = self.stack_trace
        return payload


class TooManyRequests(Exception):
    """Lambda's HTTP 429 TooManyRequestsException: the function is at its concurrency limit; nothing ran."""

    error_code: Final = "TooManyRequestsException"
    message: Final = "Rate Exceeded."

    def __init__(self, function_name: str, reason: str) -> None:
        super().__init__(f"{function_name}: {self.error_code}: {self.message} ({reason})")
        self.function_name = function_name
        self.reason = reason


class RuntimeStopped(RuntimeError):
    """The local stack is stopping: no more invocations."""


@dataclass(frozen=True)
class InvocationRecord:
    function_name: str
    request_id: str
    duration_ms: float
    cold_start: bool
    error_type: str | None


@dataclass(frozen=True)
class _Outcome:
    result: bytes = b"null"
    error: dict[str, Any] | None = None
    reusable: bool = True


def new_trace_header() -> str:
    """A new trace, sampled, in X-Ray's format: Root=1-<epoch seconds, hex>-<96 random bits>."""
    return f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()};Parent={os.urandom(8).hex()};Sampled=1"


def layer_modules() -> list[str]:
    """Every module of the jobgate layer that is safe to import before a function's environment is set."""
    root = Path(jobgate.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = ("jobgate", *path.relative_to(root).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name not in _NOT_PRELOADED:
            names.append(name)
    return names


class FunctionRuntime:
    """Invokes the template's functions, each invocation in an execution environment of its own; thread-safe."""

    def __init__(
        self,
        functions: Mapping[str, LocalFunction],
        base_environment: Mapping[str, str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        preload: Sequence[str] | None = None,
        extra_preload: Sequence[str] = (),
        zygote_environment: Mapping[str, str] | None = None,
        echo_output: bool = True,
        echo_line: Callable[[bytes], bool] | None = None,
    ) -> None:
        """`preload`: the modules the zygote imports (default: the shared libraries and the jobgate layer);
        `extra_preload`: more, imported after them (a test's fakes); `zygote_environment`: variables
        those imports read (JOBGATE_FAULTS), on top of this process's environment; `echo_output`:
        copy the functions' output to this process's; `echo_line`: which lines of their stdout (all if None)."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._functions = {f.function_name: f for f in functions.values()}
        self._functions.update({f.logical_id: f for f in functions.values()})
        self._base_environment = base_environment  # not a copy: the stack adds its endpoints after start
        self._idle_seconds = idle_seconds
        self._pools = {f.function_name: _Pool.for_function(f, concurrency) for f in functions.values()}
        self._lock = threading.Lock()
        self._listeners: list[InvocationListener] = []
        self._stopped = False
        self._relay = _OutputRelay(echo_output, echo_line)
        # Started now, so that its imports overlap the rest of the stack's start.
        preloaded = [*SHARED_LIBRARIES, *layer_modules()] if preload is None else list(preload)
        self._zygote = _Zygote([*preloaded, *extra_preload], dict(zygote_environment or {}))
        self._reaper_stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap_idle, name="jobgate-function-reaper", daemon=True)
        self._reaper.start()

    def add_listener(self, listener: InvocationListener) -> None:
        self._listeners.append(listener)

    def add_output_listener(self, listener: OutputListener) -> None:
        self._relay.listeners.append(listener)

    def add_line_listener(self, listener: LineListener) -> None:
        self._relay.line_listeners.append(listener)

    def function(self, name: str) -> LocalFunction:
        return self._functions[name]

    def concurrent_executions(self, name: str) -> int:
        """How many invocations of the function run now (Lambda's ConcurrentExecutions)."""
        with self._lock:
            return self._pools[self._functions[name].function_name].running

    def invoke(self, name: str, event: Any) -> Any:
        """Run the handler with `event` (JSON-serializable) and return its response.

        FunctionError if the invocation failed (the handler raised, timed out or its process died);
        TooManyRequests if the function is at its concurrency limit.
        """
        result = self._invoke(name, json.dumps(event).encode())
        return json.loads(result)

    def invoke_json(self, name: str, payload: str | None) -> tuple[str, bool]:
        """Lambda's wire form: JSON in, (JSON out, errored) back. TooManyRequests if throttled."""
        try:
            return self._invoke(name, (payload or "{}").encode()).decode(), False
        except FunctionError as error:
            return json.dumps(error.payload()), True

    def stop(self) -> None:
        """End every environment (SIGTERM, then SIGKILL after a short grace) and the zygote; idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            idle = [environment for pool in self._pools.values() for environment in pool.idle]
            busy = [environment for pool in self._pools.values() for environment in pool.busy]
            for pool in self._pools.values():
                pool.idle.clear()
        self._reaper_stop.set()
        _end_all([*idle, *busy], signal.SIGTERM)
        for environment in idle:
            environment.close()  # a busy one is closed by the invocation it was running
        self._zygote.stop()
        self._reaper.join(5)
        self._relay.stop()

    # ------------------------------------------------------------ invocation

    def _invoke(self, name: str, event: bytes) -> bytes:
        function = self._functions[name]
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        try:
            environment, cold = self._acquire(function)
        except TooManyRequests as throttled:
            self._notify(InvocationRecord(function.function_name, request_id, 0.0, False, throttled.error_code))
            raise
        outcome: _Outcome | None = None
        try:
            outcome = environment.invoke(self._request(function, request_id), event, function.timeout_seconds)
        finally:
            self._release(function, environment, reusable=outcome is not None and outcome.reusable)
        error = FunctionError.from_payload(function.function_name, outcome.error) if outcome.error else None
        self._notify(
            InvocationRecord(
                function_name=function.function_name,
                request_id=request_id,
                duration_ms=(time.monotonic() - started) * 1000,
                cold_start=cold,
                error_type=error.error_type if error else None,
            )
        )
        if error is not None:
            raise error
        return outcome.result

    def _request(self, function: LocalFunction, request_id: str) -> dict[str, Any]:
        return {
            "requestId": request_id,
            "functionName": function.function_name,
            "functionArn": function.arn,
            "memoryMb": function.memory_mb,
            "timeoutSeconds": function.timeout_seconds,
            "handler": function.handler,
            "codeDir": str(function.code_dir),
            "environment": {**self._environment_of(function), TRACE_VARIABLE: new_trace_header()},
        }

    def _environment_of(self, function: LocalFunction) -> dict[str, str]:
        environment = {
            **os.environ,  # the stack's AWS endpoint and credentials
            **self._base_environment,
            **function.environment,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "LAMBDA_TASK_ROOT": str(function.code_dir),
            "_HANDLER": function.handler,
        }
        environment.update({name: os.environ[name] for name in CONSOLE_VARIABLES if name in os.environ})
        return environment

    def _notify(self, record: InvocationRecord) -> None:
        for listener in self._listeners:
            listener(record)

    # ------------------------------------------------------------ environments

    def _acquire(self, function: LocalFunction) -> tuple[_Environment, bool]:
        """A warm environment (most recently used first), or a new one; throttled past the limit."""
        dead: list[_Environment] = []
        with self._lock:
            if self._stopped:
                raise RuntimeStopped("the local stack is stopping")
            pool = self._pools[function.function_name]
            if pool.running >= pool.limit:
                raise TooManyRequests(function.function_name, pool.throttle_reason)
            environment: _Environment | None = None
            while pool.idle:
                candidate = pool.idle.pop()
                if candidate.exited():
                    dead.append(candidate)  # killed from outside while idle
                else:
                    environment = candidate
                    break
            if environment is None:
                pool.starting += 1
            else:
                pool.busy.add(environment)
        for environment_ in dead:
            environment_.close()
        if environment is not None:
            return environment, False
        try:
            environment = self._spawn(function)
        except BaseException:
            with self._lock:
                pool.starting -= 1
            raise
        with self._lock:
            pool.starting -= 1
            stopped = self._stopped
            if not stopped:
                pool.busy.add(environment)
        if stopped:
            _end_all([environment], signal.SIGKILL)
            environment.close()
            raise RuntimeStopped("the local stack is stopping")
        return environment, True

    def _spawn(self, function: LocalFunction) -> _Environment:
        pid, control, status_fd, stdout_fd, stderr_fd = self._zygote.spawn()
        self._relay.add(stdout_fd, function.function_name, to_stderr=False)
        self._relay.add(stderr_fd, function.function_name, to_stderr=True)
        return _Environment(function.function_name, pid, control, status_fd)

    def _release(self, function: LocalFunction, environment: _Environment, *, reusable: bool) -> None:
        with self._lock:
            pool = self._pools[function.function_name]
            pool.busy.discard(environment)
            keep = reusable and not self._stopped
            if keep:
                environment.idle_since = time.monotonic()
                pool.idle.append(environment)
        if not keep:
            _end_all([environment], signal.SIGKILL)
            environment.close()

    def _reap_idle(self) -> None:
        """End environments idle for `idle_seconds`, as Lambda reclaims them, so memory does not grow."""
        interval = max(0.05, min(self._idle_seconds / 4, 5.0))
        while not self._reaper_stop.wait(interval):
            cutoff = time.monotonic() - self._idle_seconds
            with self._lock:
                expired = [e for pool in self._pools.values() for e in pool.idle if e.idle_since <= cutoff]
                for pool in self._pools.values():
                    pool.idle[:] = [e for e in pool.idle if e.idle_since > cutoff]
            for environment in expired:
                environment.retire()


@dataclass(eq=False)
class _Pool:
    """One function's environments."""

    limit: int
    throttle_reason: str
    idle: list[_Environment] = field(default_factory=list)
    busy: set[_Environment] = field(default_factory=set)
    starting: int = 0

    @classmethod
    def for_function(cls, function: LocalFunction, concurrency: int) -> _Pool:
        reserved = function.reserved_concurrency
        if reserved is not None and reserved <= concurrency:
            return cls(limit=reserved, throttle_reason="ReservedFunctionConcurrentInvocationLimitExceeded")
        return cls(limit=concurrency, throttle_reason="ConcurrentInvocationLimitExceeded")

    @property
    def running(self) -> int:
        return len(self.busy) + self.starting


class _Environment:
    """One execution environment: a worker process, its control socket and its exit status."""

    def __init__(self, function_name: str, pid: int, control: socket.socket, status_fd: int) -> None:
        self.function_name = function_name
        self.pid = pid
        self.idle_since = 0.0
        self._control = control
        self._status_fd = status_fd
        os.set_blocking(status_fd, False)
        self._status_lock = threading.Lock()
        self._exit_status: int | None = None
        self._initialized = False
        self._closed = False
        try:
            # Signals through a pidfd cannot reach another process that reused the pid.
            self._pidfd: int | None = os.pidfd_open(pid)
        except OSError:
            self._pidfd = None

    def invoke(self, request: dict[str, Any], event: bytes, timeout_seconds: float) -> _Outcome:
        deadline = time.monotonic() + timeout_seconds + (0.0 if self._initialized else INIT_SECONDS)
        request_id = str(request["requestId"])
        try:
            send_frame(self._control, request, event)
            while True:
                frame = receive_frame(self._control, deadline)
                if frame is None:
                    return self._exited(request_id)
                header, body = frame
                if header["kind"] == "initialized":
                    self._initialized = True
                    deadline = min(deadline, time.monotonic() + timeout_seconds)
                    continue
                if header["kind"] == "result":
                    return _Outcome(result=body)
                return _Outcome(error=header["payload"], reusable=bool(header.get("reusable")))
        except TimeoutError:
            self.send_signal(signal.SIGKILL)
            self.wait_exit(5.0)
            message = f"RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2f} seconds"
            return _Outcome(error={"errorMessage": message, "errorType": "Sandbox.Timedout"}, reusable=False)
        except OSError:  # the worker went away while we wrote to it
            return self._exited(request_id)

    def _exited(self, request_id: str) -> _Outcome:
        status = self.wait_exit(5.0)
        if status is not None and os.WIFSIGNALED(status):
            reason = f"Runtime exited with error: signal: {_signal_name(os.WTERMSIG(status))}"
        elif status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
            reason = f"Runtime exited with error: exit status {os.WEXITSTATUS(status)}"
        else:
            reason = "Runtime exited without providing a reason"
        message = f"RequestId: {request_id} Error: {reason}"
        return _Outcome(error={"errorMessage": message, "errorType": "Runtime.ExitError"}, reusable=False)

    def exited(self) -> bool:
        return self._closed or self.wait_exit(0.0) is not None

    def wait_exit(self, timeout: float) -> int | None:
        """The worker's wait status once it has exited (and been reaped); None if still running after `timeout`."""
        with self._status_lock:
            if self._exit_status is None and not self._closed:
                readable, _, _ = select.select([self._status_fd], [], [], timeout)
                if readable:
                    try:
                        data = os.read(self._status_fd, STATUS.size)
                    except BlockingIOError:
                        data = None
                    if data is not None:
                        # Closed without a status: the zygote died, and its workers were killed with it.
                        self._exit_status = STATUS.unpack(data)[0] if len(data) == STATUS.size else signal.SIGKILL
            return self._exit_status

    def send_signal(self, signal_number: int) -> None:
        if self.exited():
            return
        try:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, signal_number)
            else:
                os.kill(self.pid, signal_number)
        except ProcessLookupError:
            pass

    def retire(self) -> None:
        """End an idle environment: the worker reads the end of its control socket and exits."""
        self._control.shutdown(socket.SHUT_RDWR)
        if self.wait_exit(STOP_GRACE_SECONDS) is None:
            self.send_signal(signal.SIGKILL)
            self.wait_exit(5.0)
        self.close()

    def close(self) -> None:
        with self._status_lock:
            if self._closed:
                return
            self._closed = True
            self._control.close()
            os.close(self._status_fd)
            if self._pidfd is not None:
                os.close(self._pidfd)


def _end_all(environments: Sequence[_Environment], first_signal: signal.Signals) -> None:
    """Signal each environment, give them STOP_GRACE_SECONDS together to exit, then kill what is left."""
    if first_signal != signal.SIGKILL:
        for environment in environments:
            environment.send_signal(first_signal)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for environment in environments:
            environment.wait_exit(max(0.0, deadline - time.monotonic()))
    for environment in environments:
        if not environment.exited():
            environment.send_signal(signal.SIGKILL)
            environment.wait_exit(5.0)


def _signal_name(signal_number: int) -> str:
    # As Lambda (Go) prints them: "killed", "terminated", "segmentation fault".
    try:
        return (signal.strsignal(signal_number) or str(signal_number)).lower()
    except ValueError:
        return str(signal_number)


class _Zygote:
    """The preloaded process that forks the workers (a child of this process, in a session of its own)."""

    def __init__(self, preload: list[str], environment: dict[str, str]) -> None:
        self._preload = preload
        self._environment = environment
        self._lock = threading.Lock()
        self._stopped = False
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._ready = False
        self._start()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _ZYGOTE_CODE,
                    # Absolute: a worker runs in its function's directory, and "" would mean that one.
                    json.dumps([os.path.abspath(entry) for entry in sys.path]),
                    str(theirs.fileno()),
                    json.dumps(self._preload),
                    json.dumps(BOTO3_SERVICES),
                ],
                pass_fds=[theirs.fileno()],
                env={**os.environ, **self._environment},
                stdin=subprocess.DEVNULL,
                # Not in the terminal's process group: Ctrl-C is for the stack, which ends the workers.
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._socket = ours
        self._ready = False

    def spawn(self) -> tuple[int, socket.socket, int, int, int]:
        """Fork a worker: (pid, control socket, exit-status fd, stdout fd, stderr fd)."""
        with self._lock:
            if self._stopped:
                raise RuntimeStopped("the local stack is stopping")
            if self._process is None or self._process.poll() is not None:
                self._close_socket()
                self._start()  # it died (killed from outside): a new one
            assert self._socket is not None
            if not self._ready:
                self._socket.settimeout(_ZYGOTE_START_SECONDS)
                if self._socket.recv(16) != READY:
                    raise RuntimeError("the functions' zygote process did not start")
                self._ready = True
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            stdout_r, stdout_w = os.pipe()
            stderr_r, stderr_w = os.pipe()
            try:
                self._socket.settimeout(30.0)
                socket.send_fds(self._socket, [SPAWN], [theirs.fileno(), stdout_w, stderr_w])
                answer, fds, _, _ = socket.recv_fds(self._socket, 16, 1)
            except BaseException:
                ours.close()
                os.close(stdout_r)
                os.close(stderr_r)
                raise
            finally:
                theirs.close()
                os.close(stdout_w)
                os.close(stderr_w)
            if len(answer) != 4 or len(fds) != 1:
                ours.close()
                for fd in (stdout_r, stderr_r, *fds):
                    os.close(fd)
                raise RuntimeError("the functions' zygote process did not fork a worker")
            ours.settimeout(None)
            return int.from_bytes(answer, "big", signed=True), ours, fds[0], stdout_r, stderr_r

    def stop(self) -> None:
        """Close our end: the zygote kills the workers still alive, and exits."""
        with self._lock:
            self._stopped = True
            self._close_socket()
            process, self._process = self._process, None
        if process is not None:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class _OutputRelay:
    """Copies the workers' stdout and stderr to this process's, whole lines at a time, on one thread."""

    def __init__(self, echo: bool, echo_line: Callable[[bytes], bool] | None = None) -> None:
        self._echo = echo
        self._echo_line = echo_line
        self.listeners: list[OutputListener] = []
        self.line_listeners: list[LineListener] = []
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._pending: list[tuple[int, _Stream]] = []
        self._stopping = False
        self._partial: dict[int, bytes] = {}
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name="jobgate-function-output", daemon=True)
        self._thread.start()

    def add(self, fd: int, function_name: str, *, to_stderr: bool) -> None:
        with self._lock:
            self._pending.append((fd, _Stream(function_name, to_stderr)))
        self._wake()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        self._wake()
        self._thread.join(5)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # a full pipe: it is awake already
            os.write(self._wake_w, b"x")

    def _run(self) -> None:
        while True:
            for key, _ in self._selector.select():
                if key.fd == self._wake_r:
                    if self._take_pending():
                        self._drain_and_close()
                        return
                else:
                    self._copy(key.fd, key.data)

    def _take_pending(self) -> bool:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            pending, self._pending = self._pending, []
            stopping = self._stopping
        for fd, stream in pending:
            os.set_blocking(fd, False)
            self._selector.register(fd, selectors.EVENT_READ, stream)
        return stopping

    def _copy(self, fd: int, stream: _Stream) -> bool:
        """Copy what is there; False once the worker's end is closed (and the fd with it)."""
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        except OSError:
            chunk = b""
        if chunk:
            for listener in self.listeners:
                listener(stream.function_name, len(chunk))
        to_stderr = stream.to_stderr
        if not chunk:
            self._emit(self._partial.pop(fd, b""), stream)
            self._selector.unregister(fd)
            os.close(fd)
            return False
        lines, newline, rest = (self._partial.pop(fd, b"") + chunk).rpartition(b"\n")
        self._emit(lines + newline, stream)
        if len(rest) > 1 << 16:  # no newline in sight: do not hold it back
            self._write(rest, to_stderr)
        elif rest:
            self._partial[fd] = rest
        return True

    def _drain_and_close(self) -> None:
        """At stop: copy what the (ended) workers left in their pipes, then close everything."""
        for key in list(self._selector.get_map().values()):
            if key.fd == self._wake_r:
                continue
            while select.select([key.fd], [], [], 0)[0] and self._copy(key.fd, key.data):
                pass
            if key.fd in self._selector.get_map():
                self._emit(self._partial.pop(key.fd, b""), key.data)
                self._selector.unregister(key.fd)
                os.close(key.fd)
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _emit(self, lines: bytes, stream: _Stream) -> None:
        """Whole lines (or what a closed stream left): to the line listeners and the console."""
        if lines and not stream.to_stderr and self.line_listeners:
            for line in lines.splitlines():
                for listener in self.line_listeners:
                    listener(stream.function_name, line)
        if lines and not stream.to_stderr and self._echo_line is not None:
            lines = b"".join(line for line in lines.splitlines(keepends=True) if self._echo_line(line.rstrip(b"\n")))
        self._write(lines, stream.to_stderr)

    def _write(self, data: bytes, to_stderr: bool) -> None:
        stream = sys.stderr if to_stderr else sys.stdout
        if not data or stream is None or not self._echo:
            return
        try:
            stream.write(data.decode("utf-8", "replace"))
            stream.flush()
        except (OSError, ValueError):
            pass  # the console went away


@dataclass(frozen=True)
class _Stream:
    """A worker's stdout or stderr, as the relay reads it."""

    function_name: str
    to_stderr: bool
