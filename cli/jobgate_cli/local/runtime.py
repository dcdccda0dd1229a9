"""Runs Lambda handlers in this process, one sandbox per concurrent invocation, as Lambda does.

Each sandbox imports the function's own code afresh (its modules are kept out of
`sys.modules`), so module-level state such as a Powertools resolver or a key cache is never
shared between concurrent invocations. Layer code (`jobgate`, Powertools, boto3) is shared,
like an imported library. Each invocation sees its function's own environment through
`jobgate.config.function_environment`, because `os.environ` is process-wide.

Rule for function code that follows from this: import everything at module level.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobgate.config import function_environment
from jobgate_cli.local.template_model import LocalFunction

_IMPORT_LOCK = threading.Lock()
InvocationListener = Callable[["InvocationRecord"], None]


class FunctionError(Exception):
    """The handler raised; carries Lambda's error payload ({errorMessage, errorType, stackTrace})."""

    def __init__(self, function_name: str, error_type: str, message: str, stack_trace: list[str]) -> None:
        super().__init__(f"{function_name}: {error_type}: {message}")
        self.function_name = function_name
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace

    def payload(self) -> dict[str, Any]:
        return {"errorMessage": self.message, "errorType": self.error_type, "stackTrace": self.stack_trace}


@dataclass(frozen=True)
class InvocationRecord:
    function_name: str
    request_id: str
    duration_ms: float
    cold_start: bool
    error_type: str | None


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


class Sandbox:
    """One warm instance of a function: its own copy of the function's modules."""

    def __init__(self, function: LocalFunction) -> None:
        module_name, _, attribute = function.handler.rpartition(".")
        self.handler = _import_isolated(function.code_dir, module_name, attribute)


def _own_module_names(code_dir: Path) -> set[str]:
    names = {p.stem for p in code_dir.glob("*.py")}
    names |= {p.parent.name for p in code_dir.glob("*/__init__.py")}
    return names


def _is_own(module_name: str, own: set[str]) -> bool:
    return module_name.split(".", 1)[0] in own


def _import_isolated(code_dir: Path, module_name: str, attribute: str) -> Callable[..., Any]:
    own = _own_module_names(code_dir)
    with _IMPORT_LOCK:
        shadowed = {name: sys.modules.pop(name) for name in list(sys.modules) if _is_own(name, own)}
        sys.path.insert(0, str(code_dir))
        try:
            module = importlib.import_module(module_name)
            handler: Callable[..., Any] = getattr(module, attribute)
        finally:
            sys.path.remove(str(code_dir))
            for name in [n for n in sys.modules if _is_own(n, own)]:
                del sys.modules[name]
            sys.modules.update(shadowed)
    return handler


class FunctionRuntime:
    """Invokes the template's functions in-process; thread-safe."""

    def __init__(self, functions: dict[str, LocalFunction], base_environment: dict[str, str]) -> None:
        self._functions = {f.function_name: f for f in functions.values()}
        self._functions.update({f.logical_id: f for f in functions.values()})
        self._base_environment = base_environment
        self._idle: dict[str, list[Sandbox]] = {f.function_name: [] for f in functions.values()}
        self._lock = threading.Lock()
        self._listeners: list[InvocationListener] = []

    def add_listener(self, listener: InvocationListener) -> None:
        self._listeners.append(listener)

    def function(self, name: str) -> LocalFunction:
        return self._functions[name]

    def invoke(self, name: str, event: Any) -> Any:
        """Run the handler with `event`; FunctionError if it raised, like a Lambda function error."""
        function = self._functions[name]
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        with self._sandbox(function) as (sandbox, cold):
            context = LambdaContext(
                function_name=function.function_name,
                memory_limit_in_mb=function.memory_mb,
                invoked_function_arn=function.arn,
                aws_request_id=request_id,
                deadline=started + function.timeout_seconds,
            )
            environment = {
                **self._base_environment,
                **function.environment,
                "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            }
            error: FunctionError | None = None
            try:
                with function_environment(environment):
                    result = sandbox.handler(event, context)
            except Exception as raised:  # noqa: BLE001 - any handler error is a function error
                error = FunctionError(
                    function.function_name,
                    type(raised).__name__,
                    str(raised),
                    traceback.format_exception(raised)[-6:],
                )
        record = InvocationRecord(
            function_name=function.function_name,
            request_id=request_id,
            duration_ms=(time.monotonic() - started) * 1000,
            cold_start=cold,
            error_type=error.error_type if error else None,
        )
        for listener in self._listeners:
            listener(record)
        if error is not None:
            raise error
        return result

    def invoke_json(self, name: str, payload: str | None) -> tuple[str, bool]:
        """Lambda's wire form: JSON in, (JSON out, errored) back."""
        event = json.loads(payload) if payload else {}
        try:
            return json.dumps(self.invoke(name, event)), False
        except FunctionError as error:
            return json.dumps(error.payload()), True

    @contextmanager
    def _sandbox(self, function: LocalFunction) -> Iterator[tuple[Sandbox, bool]]:
        with self._lock:
            idle = self._idle[function.function_name]
            sandbox = idle.pop() if idle else None
        cold = sandbox is None
        if sandbox is None:
            sandbox = Sandbox(function)
        try:
            yield sandbox, cold
        finally:
            with self._lock:
                self._idle[function.function_name].append(sandbox)
