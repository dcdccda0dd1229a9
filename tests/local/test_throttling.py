"""How each asynchronous caller of a throttled function (TooManyRequests) retries, as on AWS.

The SQS poller leaves the messages to reappear; the stream poller retries the same batch,
without counting a retry or bisecting; the event bus retries within the rule's RetryPolicy.
"""

from __future__ import annotations

import json
from typing import Any, cast

import boto3
from moto.events.models import EventPattern

from jobgate_cli.local.eventbridge import EventBus, LambdaRule
from jobgate_cli.local.queues import SqsMappingConfig, SqsPoller
from jobgate_cli.local.runtime import FunctionRuntime, TooManyRequests
from jobgate_cli.local.streams import DynamoDBStreamPoller, StreamMappingConfig
from tests.local.conftest import FailingAtFirstRuntime, RecordingFunction, create_queue, drain, wait_until

REASON = "ReservedFunctionConcurrentInvocationLimitExceeded"


def throttled_at_first(times: int) -> RecordingFunction:
    """A function whose first `times` invocations are throttled (RecordingFunction records every call)."""
    calls = {"n": 0}

    def behave(event: dict[str, Any]) -> None:
        calls["n"] += 1
        if calls["n"] <= times:
            raise TooManyRequests("on-event", REASON)

    return RecordingFunction(behave)


def test_the_sqs_poller_leaves_a_throttled_batch_for_redelivery(sqs: Any) -> None:
    url, arn = create_queue(sqs, "work", VisibilityTimeout="0")
    sqs.send_message(QueueUrl=url, MessageBody="m1")
    function = throttled_at_first(1)
    poller = SqsPoller(sqs, function, SqsMappingConfig(queue_arn=arn), wait_time_seconds=0, poll_interval=0.01)
    poller.start()
    try:
        wait_until(lambda: len(function.batches) >= 2, "the message, delivered again")
    finally:
        poller.stop()
    first, second = function.batches[:2]
    assert [r["body"] for r in first] == [r["body"] for r in second] == ["m1"]
    assert second[0]["attributes"]["ApproximateReceiveCount"] == "2"
    wait_until(lambda: not drain(sqs, url), "the delivered message, deleted")


def test_the_stream_poller_retries_a_throttled_batch_without_counting_it(aws: None, sqs: Any) -> None:
    dynamodb = boto3.client("dynamodb")
    stream_arn = dynamodb.create_table(
        TableName="events",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    destination_url, destination_arn = create_queue(sqs, "on-failure")
    for item_id in ("r0", "r1"):
        dynamodb.put_item(TableName="events", Item={"id": {"S": item_id}})
    function = throttled_at_first(3)
    config = StreamMappingConfig(
        stream_arn=stream_arn,
        starting_position="TRIM_HORIZON",
        maximum_retry_attempts=0,
        bisect_batch_on_function_error=True,
        on_failure_destination=destination_arn,
    )
    poller = DynamoDBStreamPoller(
        boto3.client("dynamodbstreams"),
        sqs,
        function,
        config,
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:on-event",
        poll_interval=0.01,
        shard_refresh_interval=0.05,
        retry_delay=0.01,
    )
    poller.start()
    try:
        wait_until(lambda: len(function.batches) >= 4, "the batch, once no longer throttled")
    finally:
        poller.stop()
    ids = [[record["dynamodb"]["Keys"]["id"]["S"] for record in batch] for batch in function.batches]
    # Whole each time (no bisecting), and delivered although MaximumRetryAttempts is 0.
    assert ids == [["r0", "r1"]] * 4
    assert drain(sqs, destination_url) == []


def throttling_runtime(times: int) -> FailingAtFirstRuntime:
    """Throttled `times` times, then it runs."""
    return FailingAtFirstRuntime(times, lambda name: TooManyRequests(name, REASON))


def rule(max_retries: int) -> LambdaRule:
    return LambdaRule(
        name="OnFailure.Rule",
        function_name="local-reconciler",
        pattern=EventPattern.load(json.dumps({"source": ["aws.states"]})),
        max_retries=max_retries,
        max_age_seconds=60,
        dead_letter_queue="dlq-url",
    )


def test_the_event_bus_retries_a_throttled_target_within_its_retry_policy() -> None:
    runtime = throttling_runtime(2)
    dead_letters: list[dict[str, Any]] = []
    bus = EventBus(cast("FunctionRuntime", runtime), [rule(5)], lambda _, event: dead_letters.append(event), 0.01)
    try:
        assert bus.put_event({"source": "aws.states", "detail": {}}) == 1
        assert runtime.delivered.wait(10)
    finally:
        bus.stop()
    assert len(runtime.invocations) == 3
    assert dead_letters == []


def test_the_event_bus_sends_an_event_throttled_past_its_retries_to_the_dead_letter_queue() -> None:
    runtime = throttling_runtime(100)
    dead_letters: list[dict[str, Any]] = []
    bus = EventBus(cast("FunctionRuntime", runtime), [rule(1)], lambda _, event: dead_letters.append(event), 0.01)
    try:
        bus.put_event({"source": "aws.states", "detail": {"n": 1}})
        wait_until(lambda: dead_letters, "the event in the dead-letter queue")
    finally:
        bus.stop()
    assert len(runtime.invocations) == 2  # the first attempt and its one retry
    assert dead_letters == [{"source": "aws.states", "detail": {"n": 1}}]
