"""EventBridge rules with Lambda targets, for the events the local stack emits itself.

moto 5.2.5's EventBridge cannot invoke Lambda targets (NotImplementedError), and moto's Step
Functions sends no status-change events at all. The local stack emits them (see
moto_endpoint) for Standard executions only, as AWS does (step_functions_status_event), and
this module delivers them to every function whose template event of Type EventBridgeRule
matches (moto's own pattern matcher), asynchronously. EventBridge invokes Lambda
asynchronously, so an event the function fails on is Lambda's to retry: twice (or the
function's EventInvokeConfig MaximumRetryAttempts), about 1 and 2 minutes apart, and then it
goes to the function's DeadLetterQueue, or is dropped without one. A throttled function
(TooManyRequestsException) is retried with backoff within the rule's RetryPolicy and then sent
to the rule's DeadLetterConfig queue.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from moto.events.models import EventPattern

from jobgate_cli.local.runtime import FunctionError, FunctionRuntime, TooManyRequests
from jobgate_cli.sam_template import LOCAL_ACCOUNT_ID, LOCAL_REGION

LOG = logging.getLogger(__name__)
DEFAULT_MAX_RETRIES = 185
DEFAULT_MAX_AGE_SECONDS = 86_400
FIRST_RETRY_DELAY_SECONDS = 1.0
MAX_RETRY_DELAY_SECONDS = 60.0
# Lambda's asynchronous invocations: retries of a failed event, and the waits before them.
DEFAULT_FUNCTION_RETRIES = 2
FUNCTION_RETRY_DELAYS_SECONDS = (60.0, 120.0)

DeadLetterSender = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class LambdaRule:
    name: str
    function_name: str
    pattern: EventPattern
    max_retries: int
    max_age_seconds: float
    dead_letter_queue: str | None
    # The function's own asynchronous-invocation settings: where an event it failed on goes.
    function_retries: int = DEFAULT_FUNCTION_RETRIES
    function_dead_letter_queue: str | None = None

    @classmethod
    def from_template_event(
        cls,
        name: str,
        function_name: str,
        properties: dict[str, Any],
        dead_letter_queue: str | None,
        time_scale: float,
        *,
        function_retries: int = DEFAULT_FUNCTION_RETRIES,
        function_dead_letter_queue: str | None = None,
    ) -> LambdaRule:
        retry = properties.get("RetryPolicy") or {}
        return cls(
            name=name,
            function_name=function_name,
            pattern=EventPattern.load(json.dumps(properties["Pattern"])),
            max_retries=int(retry.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES)),
            max_age_seconds=float(retry.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_SECONDS)) * time_scale,
            dead_letter_queue=dead_letter_queue,
            function_retries=function_retries,
            function_dead_letter_queue=function_dead_letter_queue,
        )


def asynchronous_invocation_settings(function_properties: Mapping[str, Any]) -> tuple[int, str | None]:
    """A function's retries of a failed asynchronous event (EventInvokeConfig MaximumRetryAttempts,
    Lambda's default 2) and the name of the SQS queue its DeadLetterQueue names, if any."""
    retries = (function_properties.get("EventInvokeConfig") or {}).get("MaximumRetryAttempts")
    dead_letter = function_properties.get("DeadLetterQueue") or {}
    queue = str(dead_letter["TargetArn"]).split(":")[5] if dead_letter.get("Type") == "SQS" else None
    return (DEFAULT_FUNCTION_RETRIES if retries is None else int(retries)), queue


def event_envelope(detail_type: str, source: str, resource: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The envelope EventBridge puts around every event it delivers."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": LOCAL_ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": LOCAL_REGION,
        "resources": [resource],
        "detail": detail,
    }


def step_functions_status_event(detail: dict[str, Any]) -> dict[str, Any] | None:
    """What AWS sends on an execution's status change; None for an Express execution
    (`arn:...:express:...`): Step Functions sends EventBridge events for Standard workflows only."""
    if detail["executionArn"].split(":")[5] == "express":
        return None
    return event_envelope("Step Functions Execution Status Change", "aws.states", detail["executionArn"], detail)


class EventBus:
    def __init__(
        self,
        runtime: FunctionRuntime,
        rules: list[LambdaRule],
        send_to_dead_letter_queue: DeadLetterSender,
        time_scale: float = 1.0,
    ) -> None:
        self._runtime = runtime
        self._rules = rules
        self._send_to_dlq = send_to_dead_letter_queue
        self._time_scale = time_scale
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="jobgate-eventbridge")
        self._stopping = threading.Event()

    def put_event(self, event: dict[str, Any]) -> int:
        """Deliver to every matching rule's function (asynchronously); returns how many matched."""
        matched = [rule for rule in self._rules if rule.pattern.matches_event(cast("Any", event))]
        for rule in matched:
            self._pool.submit(self._deliver, rule, event)
        return len(matched)

    def _deliver(self, rule: LambdaRule, event: dict[str, Any]) -> None:
        first_try = time.monotonic()
        delay = FIRST_RETRY_DELAY_SECONDS * self._time_scale
        failures = throttles = 0
        while True:
            try:
                self._runtime.invoke(rule.function_name, event)
                return
            except FunctionError as error:
                failures += 1
                LOG.warning("rule %s: %s failed (failure %d): %s", rule.name, rule.function_name, failures, error)
                if failures > rule.function_retries:
                    if rule.function_dead_letter_queue is not None:
                        self._send_to_dlq(rule.function_dead_letter_queue, event)
                    return
                retry_delay = FUNCTION_RETRY_DELAYS_SECONDS[min(failures, len(FUNCTION_RETRY_DELAYS_SECONDS)) - 1]
                wait = retry_delay * self._time_scale
            except TooManyRequests as error:
                throttles += 1
                LOG.warning("rule %s: %s throttled (attempt %d): %s", rule.name, rule.function_name, throttles, error)
                if throttles > rule.max_retries or time.monotonic() - first_try + delay > rule.max_age_seconds:
                    break
                wait, delay = delay, min(delay * 2, MAX_RETRY_DELAY_SECONDS * self._time_scale)
            if self._stopping.wait(wait):
                return
        if rule.dead_letter_queue is not None:
            self._send_to_dlq(rule.dead_letter_queue, event)

    def stop(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
