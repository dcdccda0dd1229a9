"""EventBridge invokes Lambda asynchronously: an event the function fails on is Lambda's to retry.

On AWS, Lambda retries it twice and then sends it to the function's DeadLetterQueue (or drops
it without one); the rule's own dead-letter queue only holds what could not be handed over.
"""

from __future__ import annotations

import json
from typing import Any, cast

from moto.events.models import EventPattern

from jobgate_cli.local.eventbridge import EventBus, LambdaRule, asynchronous_invocation_settings
from jobgate_cli.local.runtime import FunctionError, FunctionRuntime
from jobgate_cli.local.template_model import load_local_template
from tests.conftest import REPO
from tests.local.conftest import FailingAtFirstRuntime, wait_until

EVENT = {"source": "aws.states", "detail": {"name": "job_1", "status": "FAILED"}}
# Lambda's waits before its two retries (1 and 2 minutes), scaled down to 0.06 s and 0.12 s.
TIME_SCALE = 0.001


def failing_runtime(failures: int) -> FailingAtFirstRuntime:
    """The handler raises `failures` times, then it runs."""
    return FailingAtFirstRuntime(
        failures, lambda name: FunctionError(name, "TransientStoreError", "DynamoDB did not answer", [])
    )


def rule(function_dead_letter_queue: str | None) -> LambdaRule:
    return LambdaRule(
        name="ExecutionReconcilerFunction.JobExecutionEnded",
        function_name="local-execution-reconciler",
        pattern=EventPattern.load(json.dumps({"source": ["aws.states"]})),
        max_retries=185,
        max_age_seconds=86_400,
        dead_letter_queue="rule-dlq",
        function_dead_letter_queue=function_dead_letter_queue,
    )


def deliver(runtime: FailingAtFirstRuntime, function_dead_letter_queue: str | None) -> list[tuple[str, dict[str, Any]]]:
    """Put EVENT on a bus with one rule; what reached a dead-letter queue once the bus is done with it."""
    dead_letters: list[tuple[str, dict[str, Any]]] = []
    bus = EventBus(
        cast("FunctionRuntime", runtime),
        [rule(function_dead_letter_queue)],
        lambda queue, event: dead_letters.append((queue, event)),
        TIME_SCALE,
    )
    try:
        assert bus.put_event(EVENT) == 1
        wait_until(lambda: len(runtime.invocations) >= min(runtime.times + 1, 3), "the bus's last invocation")
    finally:
        bus.stop()  # waits for the delivery to end
    return dead_letters


def test_an_event_the_function_keeps_failing_on_goes_to_its_dead_letter_queue_after_two_retries() -> None:
    runtime = failing_runtime(100)
    assert deliver(runtime, "function-dlq") == [("function-dlq", EVENT)]
    assert len(runtime.invocations) == 3  # the attempt and Lambda's two retries, not the rule's 185


def test_without_a_dead_letter_queue_the_failed_event_is_dropped_as_on_aws() -> None:
    runtime = failing_runtime(100)
    assert deliver(runtime, None) == []
    assert len(runtime.invocations) == 3


def test_a_failure_that_passes_is_handled_on_lambdas_retry() -> None:
    runtime = failing_runtime(2)
    assert deliver(runtime, "function-dlq") == []
    assert runtime.delivered.is_set()
    assert len(runtime.invocations) == 3


def test_the_reconciler_dead_letters_into_the_queue_the_template_gives_it() -> None:
    template = load_local_template(REPO / "template.yaml")
    properties = template.resources["ExecutionReconcilerFunction"]["Properties"]
    assert asynchronous_invocation_settings(properties) == (2, "ExecutionReconcilerDeadLetterQueue")
    assert "ExecutionReconcilerDeadLetterQueue" in template.resources_of_type("AWS::SQS::Queue")


def test_a_function_without_asynchronous_settings_gets_lambdas_defaults() -> None:
    assert asynchronous_invocation_settings({"Handler": "app.handler"}) == (2, None)
    settings = {"EventInvokeConfig": {"MaximumRetryAttempts": 0}}
    assert asynchronous_invocation_settings(settings) == (0, None)
