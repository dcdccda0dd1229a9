"""The AWS side of the local stack: a moto server in this process, wired to our handlers.

Hooks into moto internals (there is no documented one; moto is pinned):
- every moto Lambda invocation (Step Functions tasks, direct invokes) ends in
  `LambdaFunction._invoke_lambda(self, event)`; we answer it from the local runtime, and a
  throttled function as Lambda answers: HTTP 429 TooManyRequestsException with its Reason;
- moto marks a function error `X-Amz-Function-Error: Handled`; Lambda's Python runtime says
  `Unhandled` for every error it reports (the handler raised, timed out or exited);
- a Task whose Resource is a function ARN names a failed Invoke call "Exception" in moto; Step
  Functions names it `Lambda.<error code>` (`Lambda.TooManyRequestsException`), as moto does
  for `arn:aws:states:::lambda:invoke` tasks, so Retry/Catch on it match;
- Step Functions executions end in `BaseExecutionWorkerCommunication.terminated()`; we
  turn that into the "Step Functions Execution Status Change" event AWS sends EventBridge,
  and hand the execution's history to the history listeners (the meter's transitions).

Every request the server answers can be told to call listeners (`on_aws_call`, the meter's
SQS and S3 requests): a WSGI wrapper around moto's application sees it whole.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import requests
from botocore.exceptions import ClientError
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from werkzeug.serving import make_server

from jobgate_cli.local.endpoints import refuse_if_taken
from jobgate_cli.local.runtime import FunctionRuntime, TooManyRequests
from jobgate_cli.local.serving import SHUTDOWN_POLL_SECONDS
from jobgate_cli.moto_fixes import (
    run_express_executions_as_aws_does,
    speed_up_step_functions,
    stop_tracking_model_instances,
)
from jobgate_cli.sam_template import LOCAL_REGION

ExecutionListener = Callable[[dict[str, Any]], None]
# (the status change event's detail, the execution's history events as GetExecutionHistory lists them)
HistoryListener = Callable[[dict[str, Any], list[dict[str, Any]]], None]

_runtime: FunctionRuntime | None = None
_execution_listeners: list[ExecutionListener] = []
_history_listeners: list[HistoryListener] = []
_original_terminated = BaseExecutionWorkerCommunication.terminated
_original_invoke_lambda = LambdaFunction._invoke_lambda
_original_invoke = LambdaFunction.invoke
_original_lambda_task_error = StateTaskLambda._from_error


class LambdaThrottled(LambdaClientError):
    """Lambda's answer to an invocation past the function's concurrency (moto answers it as HTTP 429)."""

    code = 429

    def __init__(self, throttled: TooManyRequests) -> None:
        super().__init__(throttled.error_code, throttled.message)
        self.description = json.dumps(
            {"__type": throttled.error_code, "message": throttled.message, "Reason": throttled.reason, "Type": "User"}
        )


def _invoke_lambda_in_process(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    if _runtime is None:
        raise RuntimeError("the local stack's function runtime is not running")
    payload = event if isinstance(event, str) or event is None else json.dumps(event)
    try:
        result, errored = _runtime.invoke_json(self.function_name, payload)
    except TooManyRequests as throttled:
        raise LambdaThrottled(throttled) from None
    return result, errored, ""


def _invoke_reporting_unhandled(
    self: LambdaFunction, body: str, request_headers: Any, response_headers: Any
) -> str | bytes:
    response = _original_invoke(self, body, request_headers, response_headers)
    if response_headers.get("x-amz-function-error") == "Handled":
        response_headers["x-amz-function-error"] = "Unhandled"
    return response


def _lambda_task_error_as_step_functions_names_it(self: StateTaskLambda, env: Environment, ex: Exception) -> Any:
    if not isinstance(ex, ClientError):
        return _original_lambda_task_error(self, env, ex)
    error, cause = StateTaskServiceLambda._error_cause_from_client_error(ex)
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.LambdaFunctionFailed,
        # moto's TypedDict is total, and moto builds it the same way.
        event_details=EventDetails(  # type: ignore[typeddict-item]
            lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(error=error, cause=cause)
        ),
    )


def _terminated_with_event(self: BaseExecutionWorkerCommunication) -> None:
    _original_terminated(self)
    detail = execution_status_detail(self.execution)
    if _history_listeners:
        # moto keeps each event's type as an Enum; the API (and the listeners) spell its value.
        events = [
            {**event, "type": str(getattr(event["type"], "value", event["type"]))}
            for event in self.execution.to_history_output()["events"]
        ]
        for history_listener in list(_history_listeners):
            history_listener(detail, events)
    for listener in list(_execution_listeners):
        listener(detail)


def execution_status_detail(execution: Execution) -> dict[str, Any]:
    """The `detail` of AWS's "Step Functions Execution Status Change" event."""

    def millis(moment: datetime | None) -> int | None:
        return int(moment.timestamp() * 1000) if moment else None

    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "status": str(execution.exec_status.value if execution.exec_status else "RUNNING"),
        "startDate": millis(execution.start_date),
        "stopDate": millis(execution.stop_date or datetime.now(UTC)),
        "input": json.dumps(execution.input_data) if execution.input_data is not None else None,
        "output": json.dumps(execution.output) if execution.output is not None else None,
        "error": execution.error,
        "cause": execution.cause,
    }


@dataclass(frozen=True)
class AwsCall:
    """One request moto answered, as the wire carried it."""

    service: str  # the SigV4 credential scope's service: "sqs", "s3", ...
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int
    response: bytes


AwsCallListener = Callable[[AwsCall], None]
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]*/[^/]*/[^/]*/([^/]*)/aws4_request")


def signed_service(authorization: str, query: dict[str, list[str]]) -> str:
    """The service a SigV4 request (an Authorization header, or a presigned URL's query) is signed for."""
    credential = query.get("X-Amz-Credential", [""])[0]
    match = _CREDENTIAL_SCOPE.search(authorization or f"Credential={credential}")
    return match.group(1) if match else ""


class _ObservedApplication:
    """moto's WSGI application, telling each answered request to the listeners."""

    def __init__(self, application: Any, listeners: list[AwsCallListener]) -> None:
        self._application = application
        self._listeners = listeners

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self._listeners:
            return self._application(environ, start_response)  # type: ignore[no-any-return]
        body = b""
        if environ.get("CONTENT_LENGTH"):  # else (chunked) the body is moto's to read, unseen
            body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
            environ["wsgi.input"] = io.BytesIO(body)
        statuses: list[int] = []

        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, exc_info)

        answer = self._application(environ, start)
        try:
            response = b"".join(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        query = parse_qs(environ.get("QUERY_STRING", ""))
        headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        call = AwsCall(
            service=signed_service(headers.get("authorization", ""), query),
            method=str(environ["REQUEST_METHOD"]),
            path=str(environ.get("PATH_INFO", "")),
            query=query,
            headers=headers,
            body=body,
            status=statuses[0] if statuses else 0,
            response=response,
        )
        for listener in list(self._listeners):
            listener(call)
        return [response]


class _ObservedMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer whose application is observed (its own `_server_entry`, with the wrapper)."""

    def __init__(self, listeners: list[AwsCallListener], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._listeners = listeners

    def _server_entry(self) -> None:
        application = _ObservedApplication(DomainDispatcherApplication(create_backend_app), self._listeners)
        self._server = make_server(self._ip_address, self._port, application, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=SHUTDOWN_POLL_SECONDS)


class MotoEndpoint:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self._server: ThreadedMotoServer | None = None
        self._saved_environment: dict[str, str | None] = {}
        self._call_listeners: list[AwsCallListener] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, runtime: FunctionRuntime) -> None:
        global _runtime
        _runtime = runtime
        LambdaFunction._invoke_lambda = _invoke_lambda_in_process  # type: ignore[method-assign]
        LambdaFunction.invoke = _invoke_reporting_unhandled  # type: ignore[method-assign]
        StateTaskLambda._from_error = _lambda_task_error_as_step_functions_names_it  # type: ignore[method-assign]
        BaseExecutionWorkerCommunication.terminated = _terminated_with_event  # type: ignore[method-assign]
        stop_tracking_model_instances()
        speed_up_step_functions()
        run_express_executions_as_aws_does()
        _quiet_moto_logs()
        if self.port:
            refuse_if_taken(self.host, self.port)  # else moto's server thread dies and start() waits forever
        self._server = _ObservedMotoServer(self._call_listeners, ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]  # the real one when asked for port 0
        # boto3 in every function (and moto's Step Functions engine, which calls Lambda
        # through boto3 at MOTO_PORT) must talk to this endpoint, never to AWS.
        self.set_environment(
            {
                "MOTO_PORT": str(self.port),
                "AWS_ENDPOINT_URL": self.url,
                "AWS_DEFAULT_REGION": LOCAL_REGION,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
            }
        )
        # A fresh account each start: moto's backends live as long as the process.
        requests.post(f"{self.url}/moto-api/reset", timeout=5).raise_for_status()
        response = requests.post(
            f"{self.url}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}},
            timeout=5,
        )
        response.raise_for_status()

    def on_execution_ended(self, listener: ExecutionListener) -> None:
        _execution_listeners.append(listener)

    def on_execution_history(self, listener: HistoryListener) -> None:
        """`listener` gets each ended execution's history (before the status change event goes out)."""
        _history_listeners.append(listener)

    def on_aws_call(self, listener: AwsCallListener) -> None:
        self._call_listeners.append(listener)

    def stop(self) -> None:
        global _runtime
        _execution_listeners.clear()
        _history_listeners.clear()
        if self._server is not None:
            # moto's configuration is process-wide: leave it as moto's default.
            requests.post(
                f"{self.url}/moto-api/config", json={"stepfunctions": {"execute_state_machine": False}}, timeout=5
            )
            self._server.stop()
            self._server = None
        _runtime = None
        LambdaFunction._invoke_lambda = _original_invoke_lambda  # type: ignore[method-assign]
        LambdaFunction.invoke = _original_invoke  # type: ignore[method-assign]
        StateTaskLambda._from_error = _original_lambda_task_error  # type: ignore[method-assign]
        BaseExecutionWorkerCommunication.terminated = _original_terminated  # type: ignore[method-assign]
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment.clear()

    def set_environment(self, values: dict[str, str]) -> None:
        """Set process-wide variables (the stack's own boto3 clients read them); restored on stop."""
        for name, value in values.items():
            self._saved_environment.setdefault(name, os.environ.get(name))
            os.environ[name] = value


def _quiet_moto_logs() -> None:
    # moto logs every failed state (our Fail states are expected) and werkzeug every request.
    for name in ("moto.stepfunctions.parser", "werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
