"""AWS faults and function crashes on demand in the local stack's function processes (`JOBGATE_FAULTS`).

The local stack preloads this module into its functions' zygote (runtime `function_preload`).
Importing it registers a botocore `before-send` hook on boto3's default session, so every
client the functions create afterwards (jobgate/aws.py) passes through it; the functions' own
code has no local path. The hook runs inside botocore's retry loop, so what it injects is
what botocore would see from the network, retries included. Crashes and timeouts of the
functions themselves hook into the worker's invocations (`lambda_worker.invocation_hooks`).

`JOBGATE_FAULTS` is a comma-separated list of `<service>[.<Operation>]:<fault>=<rate>`:

- service: `dynamodb`, `sfn` (Step Functions), `sqs`, `s3`, or `*` for all four; or
  `lambda[.<FunctionName>]`, the functions themselves (all of them, or the one named);
- fault of an AWS service: `throttle` (the service's throttling error), `error` (a 500),
  `latency` (the call is delayed by `JOBGATE_FAULT_LATENCY_SECONDS`, default 0.5 s, then
  sent), `timeout` (no answer: botocore's read timeout, nothing sent), `lost-answer` (sent,
  committed, then the answer is lost: a read timeout after the write);
- fault of a function: `crash` (its process exits, as a runtime that dies does: Lambda
  reports `Runtime.ExitError`), `timeout` (it hangs until its Timeout cuts it off:
  `Sandbox.Timedout`); either strikes at a random point of the invocation (before one of
  its first AWS calls, or after its handler returned and before its answer), and the
  environment is not used again (runtime.py);
- rate: the probability (0..1) that one call (of a function: one invocation) gets the fault.

Example: `JOBGATE_FAULTS="dynamodb:throttle=0.05,sfn:timeout=0.05,lambda.local-demo-step:crash=0.05"`.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session

if TYPE_CHECKING:
    from jobgate_cli.local.lambda_worker import LambdaContext

FAULTS_VARIABLE = "JOBGATE_FAULTS"
FAULTS_PRELOAD = "jobgate_cli.local.faults_in_functions"
LATENCY_VARIABLE = "JOBGATE_FAULT_LATENCY_SECONDS"
# A file each injected fault is appended to, one line `<service>.<Operation> <fault>` (tests read it).
RECORD_VARIABLE = "JOBGATE_FAULT_RECORD"
DEFAULT_LATENCY_SECONDS = 0.5
# How long past its Timeout a hung invocation sleeps: the runtime has killed it well before.
HANG_MARGIN_SECONDS = 60.0

FaultKind = Literal["throttle", "error", "latency", "timeout", "lost-answer", "crash"]
FAULT_KINDS: tuple[FaultKind, ...] = ("throttle", "error", "latency", "timeout", "lost-answer")
FUNCTION = "lambda"
FUNCTION_FAULT_KINDS: tuple[FaultKind, ...] = ("crash", "timeout")
# A function fault strikes before one of the invocation's first this many AWS calls (or after
# its handler, if it makes fewer): early, midway and after every write are all reached.
STRIKE_POINTS = 4
# What a crashed runtime exits with (Lambda: "Runtime exited with error: exit status 1").
CRASH_EXIT_STATUS = 1
# botocore's service ids (hyphenized) by the names JOBGATE_FAULTS uses.
SERVICES = {"dynamodb": "dynamodb", "sfn": "sfn", "sqs": "sqs", "s3": "s3"}
THROTTLING_CODES = {
    "dynamodb": "ProvisionedThroughputExceededException",
    "sfn": "ThrottlingException",
    "sqs": "RequestThrottled",
    "s3": "SlowDown",
}


class InvalidFaults(ValueError):
    pass


@dataclass(frozen=True)
class FaultRule:
    service: str
    operation: str | None
    kind: FaultKind
    rate: float

    def applies_to(self, service: str, operation: str) -> bool:
        return self.service == service and self.operation in (None, operation)


def parse_faults(spec: str) -> list[FaultRule]:
    rules: list[FaultRule] = []
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        target, _, fault = entry.partition(":")
        kind, _, rate_text = fault.partition("=")
        service, _, operation = target.partition(".")
        if service != "*" and service not in SERVICES and service != FUNCTION:
            raise InvalidFaults(f"{entry!r}: unknown service {service!r} (one of {', '.join(SERVICES)}, *, lambda)")
        kinds = FUNCTION_FAULT_KINDS if service == FUNCTION else FAULT_KINDS
        if kind not in kinds:
            raise InvalidFaults(f"{entry!r}: unknown fault {kind!r} of {service} (one of {', '.join(kinds)})")
        try:
            rate = float(rate_text)
        except ValueError:
            raise InvalidFaults(f"{entry!r}: the rate must be a number between 0 and 1") from None
        if not 0 <= rate <= 1:
            raise InvalidFaults(f"{entry!r}: the rate must be between 0 and 1")
        for name in SERVICES if service == "*" else [service]:
            rules.append(FaultRule(SERVICES.get(name, name), operation or None, kind, rate))
    return rules


class FaultInjector:
    """The `before-send` hook: at most one fault per call, the first rule that fires."""

    def __init__(
        self,
        rules: list[FaultRule],
        latency_seconds: float = DEFAULT_LATENCY_SECONDS,
        chance: Callable[[], float] = random.random,
        send: Callable[[Any], Any] | None = None,
        record: Callable[[str], None] = lambda line: None,
    ) -> None:
        self._rules = rules
        self._record = record
        self._latency = latency_seconds
        self._chance = chance
        self._send = send or URLLib3Session().send
        self.injected: dict[FaultKind, int] = dict.fromkeys(FAULT_KINDS, 0)

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        service, operation = event_name.split(".", 2)[1:]
        for rule in self._rules:
            if rule.applies_to(service, operation) and self._chance() < rule.rate:
                self.injected[rule.kind] += 1
                self._record(f"{service}.{operation} {rule.kind}")
                return self._inject(rule.kind, service, request)
        return None

    def _inject(self, kind: FaultKind, service: str, request: Any) -> AWSResponse | None:
        if kind == "latency":
            time.sleep(self._latency)
            return None
        if kind == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "lost-answer":
            self._send(request)
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "throttle":
            return error_response(request.url, service, THROTTLING_CODES[service], 503 if service == "s3" else 400)
        return error_response(request.url, service, "InternalServerError" if service != "s3" else "InternalError", 500)


class FunctionFaults:
    """Crashes and timeouts of the functions themselves: drawn when an invocation starts, struck inside it.

    One worker serves one invocation at a time, so one armed fault at a time is all it holds.
    Its `started` and `finished` run around each handler call (lambda_worker.invocation_hooks),
    `before_call` on each of the handler's AWS calls (a `before-send` hook).
    """

    def __init__(
        self,
        rules: list[FaultRule],
        chance: Callable[[], float] = random.random,
        strike_point: Callable[[], int] = lambda: random.randint(1, STRIKE_POINTS),
        record: Callable[[str], None] = lambda line: None,
        crash: Callable[[], None] = lambda: os._exit(CRASH_EXIT_STATUS),
        hang: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rules = [rule for rule in rules if rule.service == FUNCTION]
        self._chance = chance
        self._strike_point = strike_point
        self._record = record
        self._crash = crash
        self._hang = hang
        self._armed: tuple[FaultKind, str, int] | None = None
        self._calls = 0
        self._context: LambdaContext | None = None

    @property
    def armed_by_any_rule(self) -> bool:
        return bool(self._rules)

    def started(self, context: LambdaContext) -> None:
        self._armed, self._calls, self._context = None, 0, context
        for rule in self._rules:
            if rule.applies_to(FUNCTION, context.function_name) and self._chance() < rule.rate:
                self._armed = (rule.kind, context.function_name, self._strike_point())
                return

    def before_call(self, **_: Any) -> None:
        self._calls += 1
        if self._armed is not None and self._calls >= self._armed[2]:
            self._strike()

    def finished(self) -> None:
        if self._armed is not None:
            self._strike()

    def _strike(self) -> None:
        assert self._armed is not None
        kind, function_name, _ = self._armed
        self._armed = None
        self._record(f"{FUNCTION}.{function_name} {kind}")
        if kind == "crash":
            self._crash()
        else:  # past the Timeout: the runtime kills this process there (runtime._Environment.invoke)
            remaining = self._context.get_remaining_time_in_millis() / 1000 if self._context else 0.0
            self._hang(remaining + HANG_MARGIN_SECONDS)


def error_response(url: str, service: str, code: str, status: int) -> AWSResponse:
    """An AWS error answer as the service's protocol spells it (JSON, or XML for S3)."""
    headers = HTTPHeaders()
    if service == "s3":
        body = f"<Error><Code>{code}</Code><Message>injected by JOBGATE_FAULTS</Message></Error>".encode()
        headers["Content-Type"] = "application/xml"
    else:
        body = json.dumps({"__type": code, "message": "injected by JOBGATE_FAULTS"}).encode()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        headers["x-amzn-ErrorType"] = code
    return AWSResponse(url, status, headers, _Body(body))


class _Body:
    """The raw body botocore reads from an AWSResponse."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def install(environment: Mapping[str, str] = os.environ) -> FaultInjector | None:
    """Hook every botocore session made from now on, and the worker's invocations, when JOBGATE_FAULTS asks.

    botocore's built-in handlers, because the zygote sets boto3's default session up again
    after the preloads (lambda_worker._warm_boto3), and workers may make sessions of their own.
    """
    rules = parse_faults(environment.get(FAULTS_VARIABLE, ""))
    if not rules:
        return None
    from botocore import handlers

    from jobgate_cli.local import lambda_worker

    record_path = environment.get(RECORD_VARIABLE)

    def record(line: str) -> None:
        if record_path:  # one short O_APPEND write: lines from many processes do not mix
            with open(record_path, "a", encoding="utf-8") as out:
                out.write(line + "\n")

    latency = float(environment.get(LATENCY_VARIABLE, DEFAULT_LATENCY_SECONDS))
    function_faults = FunctionFaults(rules, record=record)
    if function_faults.armed_by_any_rule:
        lambda_worker.invocation_hooks.append(function_faults)
        handlers.BUILTIN_HANDLERS.append(("before-send", function_faults.before_call))
    injector = FaultInjector([rule for rule in rules if rule.service != FUNCTION], latency, record=record)
    handlers.BUILTIN_HANDLERS.append(("before-send", injector))
    return injector
