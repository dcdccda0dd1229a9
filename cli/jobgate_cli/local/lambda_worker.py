"""The processes behind the local stack's functions: a preloaded zygote, and the workers it forks.

One worker process is one Lambda execution environment: it imports its function's handler once
(the cold start), then serves one invocation at a time until the local stack ends it. Nothing
of one environment (modules, class attributes, library state) is visible to another.

The zygote is a fresh interpreter (`python -c`, never a fork of the multi-threaded local
stack). It imports the libraries every function shares (boto3, Powertools, pydantic, the
jobgate layer), freezes them out of the garbage collector, and then forks a worker per
environment on request: a cold start costs a fork plus importing the function's own module, and
the libraries' pages stay shared copy-on-write. The zygote also reaps the workers (only a parent
can) and reports each one's wait status, so an exit reads as Lambda reports it.

Everything here is standard library until the zygote preloads, so this module imports cheaply.

Wire protocol, on Unix sockets the local stack creates:
- stack -> zygote (SOCK_SEQPACKET): b"spawn" carrying three fds: the worker's end of its
  control socket, its stdout pipe, its stderr pipe. Answer: the pid (4 bytes) carrying one fd,
  a pipe on which the worker's wait status (4 bytes) arrives once it has exited.
- stack <-> worker (SOCK_STREAM): frames of a JSON header plus raw bytes (the event, the result).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import json
import os
import select
import signal
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import FrameType, TracebackType
from typing import Any, Final, Protocol

SPAWN: Final = b"spawn"
READY: Final = b"ready"
_FRAME_HEADER: Final = struct.Struct("!II")
_PID: Final = struct.Struct("!i")
STATUS: Final = struct.Struct("!i")
_PR_SET_PDEATHSIG: Final = 1

Frame = tuple[dict[str, Any], bytes]


class InvocationHook(Protocol):
    """Told of each invocation a worker runs: just before its handler, and once the handler is done."""

    def started(self, context: LambdaContext) -> None: ...

    def finished(self) -> None: ...


# Filled by modules the zygote preloads (the local stack's fault injection, faults.py).
invocation_hooks: list[InvocationHook] = []


# ---------------------------------------------------------------- framing (used by both sides)


def send_frame(sock: socket.socket, header: dict[str, Any], body: bytes = b"") -> None:
    encoded = json.dumps(header).encode()
    sock.sendall(_FRAME_HEADER.pack(len(encoded), len(body)) + encoded + body)


def receive_frame(sock: socket.socket, deadline: float | None = None) -> Frame | None:
    """The next frame; None if the peer closed (or died). TimeoutError once `deadline` (monotonic) passes."""
    lengths = _receive_exactly(sock, _FRAME_HEADER.size, deadline)
    if lengths is None:
        return None
    header_length, body_length = _FRAME_HEADER.unpack(lengths)
    header = _receive_exactly(sock, header_length, deadline)
    body = _receive_exactly(sock, body_length, deadline) if body_length else b""
    if header is None or body is None:
        return None
    return json.loads(header), body


def _receive_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
        try:
            chunk = sock.recv(min(remaining, 1 << 20))
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------- the zygote


def zygote_main(sock_fd: int, preload: Sequence[str], boto3_services: Sequence[str]) -> None:
    """Preload, say ready, then fork a worker for each spawn request until the stack goes away."""
    sock = socket.socket(fileno=sock_fd)
    # The stack ends us (and we end our workers); a terminal's Ctrl-C is for the stack alone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - a missing optional library only costs cold-start time
            print(f"jobgate local: could not preload {name}: {error}", file=sys.stderr, flush=True)
    if "boto3" in sys.modules:
        _warm_boto3(boto3_services)
    # Keep the preloaded objects out of the collector, so workers do not dirty (copy) their pages.
    gc.freeze()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, _ignore_signal)  # a Python handler, so the wakeup fd is written
    signal.signal(signal.SIGTERM, _exit_on_signal)
    status_writers: dict[int, int] = {}
    try:
        sock.sendall(READY)
        while True:
            _reap(status_writers)
            readable, _, _ = select.select([sock.fileno(), wake_r], [], [])
            if wake_r in readable:
                _drain(wake_r)
            if sock.fileno() in readable:
                try:
                    message, fds, _, _ = socket.recv_fds(sock, 64, 3)
                except OSError:  # ECONNRESET: the stack closed its end with a request unread
                    return
                if not message:
                    return  # the stack closed its end, or died
                if message != SPAWN or len(fds) != 3:
                    for fd in fds:
                        os.close(fd)
                    continue
                pid, status_reader = _fork_worker(sock, fds, (wake_r, wake_w), status_writers)
                socket.send_fds(sock, [_PID.pack(pid)], [status_reader])
                os.close(status_reader)
    finally:
        for pid in list(status_writers):
            _signal_quietly(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while status_writers and time.monotonic() < deadline:
            _reap(status_writers)
            time.sleep(0.01)


def _warm_boto3(services: Sequence[str]) -> None:
    """Load these services' models into boto3's default session, which every worker inherits.

    A first client otherwise reads some MB of JSON models in each environment (~0.1 s each). Only
    the session's data loader is warmed: no client is kept, no credentials or region are resolved
    (a worker resolves them from its own environment, at its first client).
    """
    import boto3

    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    for service in services:
        boto3.DEFAULT_SESSION.client(
            service,  # type: ignore[call-overload]
            region_name="us-east-1",
            aws_access_key_id="zygote",
            aws_secret_access_key="zygote",
            endpoint_url="http://127.0.0.1:9",
        )


def _fork_worker(
    sock: socket.socket, fds: list[int], wakeup: tuple[int, int], status_writers: dict[int, int]
) -> tuple[int, int]:
    control_fd, stdout_fd, stderr_fd = fds
    status_reader, status_writer = os.pipe()
    _flush_standard_streams()  # else the worker would print the zygote's buffered output again
    zygote_pid = os.getpid()
    pid = os.fork()
    if pid == 0:  # the worker
        exit_code = 1
        try:
            _die_with_the_zygote(zygote_pid)
            signal.set_wakeup_fd(-1)
            for signal_number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                signal.signal(signal_number, signal.SIG_DFL)
            sock.close()
            for fd in (*wakeup, status_reader, status_writer, *status_writers.values()):
                os.close(fd)
            exit_code = worker_main(control_fd, stdout_fd, stderr_fd)
        except SystemExit as exit_:
            exit_code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except BaseException:  # noqa: BLE001 - report anything, then end the process as Lambda's runtime would
            traceback.print_exc()
        finally:
            _flush_standard_streams()
            # Not a normal exit: that would wait for threads the handler left behind.
            os._exit(exit_code)
    for fd in fds:
        os.close(fd)
    status_writers[pid] = status_writer  # the wait status is written to it once the worker is reaped
    return pid, status_reader


def _die_with_the_zygote(zygote_pid: int) -> None:
    """Linux: the kernel kills this worker if the zygote dies (else it would live on, orphaned)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != zygote_pid:  # the zygote died before the prctl
        os._exit(1)


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def _reap(status_writers: dict[int, int]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        writer = status_writers.pop(pid, None)
        if writer is not None:
            try:
                os.write(writer, STATUS.pack(status))
            finally:
                os.close(writer)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _signal_quietly(pid: int, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal_number)


def _ignore_signal(signal_number: int, frame: FrameType | None) -> None:
    pass


def _exit_on_signal(signal_number: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


# ---------------------------------------------------------------- a worker: one execution environment


@dataclass
class LambdaContext:
    """What Lambda passes as `context` (the attributes Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class _Fault(Exception):
    """An error of the runtime rather than of the handler (Lambda's Runtime.* error types)."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []

    def payload(self) -> dict[str, Any]:
        return {"errorMessage": self.message, "errorType": self.error_type, "stackTrace": self.stack_trace}


def worker_main(control_fd: int, stdout_fd: int, stderr_fd: int) -> int:
    """Serve invocations on the control socket until the stack closes it; the process's exit code."""
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)
    os.close(stdout_fd)
    os.close(stderr_fd)
    # Line-buffered, so Powertools' log lines reach the console as they are written.
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    control = socket.socket(fileno=control_fd)
    handler: Callable[[Any, LambdaContext], Any] | None = None
    while True:
        frame = receive_frame(control)
        if frame is None:
            return 0  # the stack reclaimed this environment
        request, event_bytes = frame
        # Powertools (and boto3) read the environment at import and at call time: make it the function's.
        os.environ.clear()
        os.environ.update(request["environment"])
        if handler is None:
            try:
                handler = _load_handler(request["handler"], request["codeDir"])
            except _Fault as fault:
                # Lambda discards an environment whose init failed; the next invocation starts a new one.
                send_frame(control, {"kind": "error", "payload": fault.payload(), "reusable": False})
                return 0
            send_frame(control, {"kind": "initialized"})
        context = LambdaContext(
            function_name=request["functionName"],
            memory_limit_in_mb=request["memoryMb"],
            invoked_function_arn=request["functionArn"],
            aws_request_id=request["requestId"],
            deadline=time.monotonic() + request["timeoutSeconds"],
        )
        for hook in invocation_hooks:
            hook.started(context)
        try:
            result = handler(json.loads(event_bytes), context)
        except Exception as error:  # noqa: BLE001 - any handler error is a function error
            _invocation_finished()
            send_frame(control, {"kind": "error", "payload": _error_payload(error), "reusable": True})
            continue
        _invocation_finished()
        try:
            body = json.dumps(result, ensure_ascii=False, default=_marshal_default).encode()
        except (TypeError, ValueError) as error:
            unmarshallable = _Fault("Runtime.MarshalError", f"Unable to marshal response: {error}")
            send_frame(control, {"kind": "error", "payload": unmarshallable.payload(), "reusable": True})
            continue
        send_frame(control, {"kind": "result", "reusable": True}, body)


def _invocation_finished() -> None:
    for hook in invocation_hooks:
        hook.finished()


def _load_handler(handler: str, code_dir: str) -> Callable[[Any, LambdaContext], Any]:
    """Import the handler as Lambda's Python runtime does, with its Runtime.* errors."""
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values to unpack")
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)  # Lambda runs the handler in its code's directory (/var/task)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}") from None
    except SyntaxError as error:
        trace = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
        raise _Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}", trace) from None
    except Exception as error:  # noqa: BLE001 - an exception at import is reported with its own type
        raise _Fault(type(error).__name__, str(error), _stack_trace(error.__traceback__)) from None
    try:
        function: Callable[[Any, LambdaContext], Any] = getattr(module, attribute)
    except AttributeError:
        raise _Fault("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'") from None
    return function


def _error_payload(error: BaseException) -> dict[str, Any]:
    # The first frame is this module calling the handler: Lambda's runtime drops its own frames too.
    traceback_ = error.__traceback__.tb_next if error.__traceback__ else None
    return {"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": _stack_trace(traceback_)}


def _stack_trace(traceback_: TracebackType | None) -> list[str]:
    return traceback.format_list(traceback.extract_tb(traceback_))


def _marshal_default(value: Any) -> Any:
    # Lambda's marshaller writes a Decimal (what boto3 reads DynamoDB numbers as) as a JSON number.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
