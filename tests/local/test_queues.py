"""The SQS event source mapping, against moto's real queues."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jobgate_cli.local.event_sources import Poller, UnsupportedMappingProperty
from jobgate_cli.local.queues import SqsMappingConfig, SqsPoller, queue_url_from_arn
from tests.local.conftest import RecordingFunction, create_queue, drain, wait_until

PollerFactory = Callable[..., SqsPoller]


@pytest.fixture
def queue(sqs: Any) -> tuple[str, str]:
    """A work queue whose failed messages reappear at once (visibility timeout 0) and go to a DLQ after 2 receives."""
    _, dlq_arn = create_queue(sqs, "work-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    return create_queue(sqs, "work", VisibilityTimeout="0", RedrivePolicy=redrive)


@pytest.fixture
def start_poller(sqs: Any, queue: tuple[str, str]) -> Iterator[PollerFactory]:
    started: list[Poller] = []  # also checks that the poller satisfies the Poller protocol

    def start(function: RecordingFunction, queue_arn: str = queue[1], **settings: Any) -> SqsPoller:
        # Short polling (wait 0), so that stop() returns at once.
        config = SqsMappingConfig(queue_arn=queue_arn, **settings)
        poller = SqsPoller(sqs, function, config, wait_time_seconds=0, poll_interval=0.01)
        poller.start()
        started.append(poller)
        return poller

    yield start
    for poller in started:
        poller.stop()


def send(sqs: Any, url: str, *bodies: str) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)


def bodies(function: RecordingFunction) -> list[list[str]]:
    return [[record["body"] for record in batch] for batch in function.batches]


def messages_left(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def test_records_arrive_in_lambdas_sqs_event_format(
    sqs: Any, queue: tuple[str, str], start_poller: PollerFactory
) -> None:
    url, arn = queue
    sqs.send_message(
        QueueUrl=url,
        MessageBody='{"job": "j1"}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "status"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
        },
    )
    function = RecordingFunction()

    start_poller(function)

    (record,) = wait_until(lambda: function.batches, "a batch")[0]
    assert record["body"] == '{"job": "j1"}'
    assert record["md5OfBody"] == hashlib.md5(b'{"job": "j1"}').hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert record["messageId"]
    assert record["receiptHandle"]
    assert set(record["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "status", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "raw": {"binaryValue": "AQI=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }


def test_a_successful_batch_is_deleted(sqs: Any, queue: tuple[str, str], start_poller: PollerFactory) -> None:
    url, _ = queue
    send(sqs, url, "m1", "m2", "m3")
    function = RecordingFunction()

    start_poller(function)

    wait_until(lambda: sum(map(len, function.batches)) == 3, "3 messages")
    wait_until(lambda: messages_left(sqs, url) == 0, "the queue to empty")


def test_batch_size_caps_each_invocation(sqs: Any, queue: tuple[str, str], start_poller: PollerFactory) -> None:
    url, _ = queue
    send(sqs, url, *[f"m{index}" for index in range(7)])
    function = RecordingFunction()

    start_poller(function, batch_size=3)

    wait_until(lambda: sum(map(len, function.batches)) == 7, "7 messages")
    assert max(map(len, function.batches)) <= 3
    assert sorted(body for batch in bodies(function) for body in batch) == sorted(f"m{index}" for index in range(7))


def test_batching_window_gathers_more_than_one_receive(
    sqs: Any, queue: tuple[str, str], start_poller: PollerFactory
) -> None:
    url, _ = queue
    send(sqs, url, *[f"m{index}" for index in range(12)])  # SQS returns at most 10 per receive
    function = RecordingFunction()

    start_poller(function, batch_size=20, maximum_batching_window_seconds=0.5)

    wait_until(lambda: function.batches, "a batch")
    assert sorted(bodies(function)[0]) == sorted(f"m{index}" for index in range(12))


def test_a_failed_batch_reappears_after_the_visibility_timeout(sqs: Any, start_poller: PollerFactory) -> None:
    url, arn = create_queue(sqs, "slow", VisibilityTimeout="1")
    first_attempt = threading.Event()
    first_attempt.set()

    def fail_first_attempt(event: dict[str, Any]) -> None:
        if first_attempt.is_set():
            first_attempt.clear()
            raise RuntimeError("transient failure")

    function = RecordingFunction(fail_first_attempt)
    send(sqs, url, "m1")

    start_poller(function, queue_arn=arn)

    wait_until(lambda: len(function.batches) == 2, "the redelivery")
    receive_counts = [batch[0]["attributes"]["ApproximateReceiveCount"] for batch in function.batches]
    assert receive_counts == ["1", "2"]
    wait_until(lambda: messages_left(sqs, url) == 0, "the queue to empty")


def test_the_queue_redrive_policy_moves_a_poison_message_to_the_dlq(
    sqs: Any, queue: tuple[str, str], start_poller: PollerFactory
) -> None:
    url, _ = queue
    dlq_url = sqs.get_queue_url(QueueName="work-dlq")["QueueUrl"]

    def raise_on_poison(event: dict[str, Any]) -> None:
        if any(record["body"] == "poison" for record in event["Records"]):
            raise ValueError("cannot process a poison message")

    function = RecordingFunction(raise_on_poison)
    send(sqs, url, "poison")

    start_poller(function, batch_size=1)

    (dead,) = wait_until(lambda: drain(sqs, dlq_url), "the message in the DLQ")
    assert dead["Body"] == "poison"
    assert bodies(function) == [["poison"], ["poison"]]  # maxReceiveCount deliveries, then the DLQ
    assert messages_left(sqs, url) == 0


def test_reported_item_failures_keep_only_the_failed_messages(
    sqs: Any, queue: tuple[str, str], start_poller: PollerFactory
) -> None:
    url, _ = queue
    reported = threading.Event()

    def report_m2_once(event: dict[str, Any]) -> Any:
        if reported.is_set():
            return None
        reported.set()
        failed = [record["messageId"] for record in event["Records"] if record["body"] == "m2"]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    function = RecordingFunction(report_m2_once)
    send(sqs, url, "m1", "m2", "m3")

    start_poller(function, report_batch_item_failures=True)

    wait_until(lambda: len(function.batches) == 2, "the redelivery of m2")
    first, second = bodies(function)
    assert sorted(first) == ["m1", "m2", "m3"]
    assert second == ["m2"]
    wait_until(lambda: messages_left(sqs, url) == 0, "the queue to empty")


def test_a_malformed_item_failure_response_keeps_the_whole_batch(
    sqs: Any, queue: tuple[str, str], start_poller: PollerFactory
) -> None:
    url, _ = queue
    responses = iter([{"batchItemFailures": [{"itemIdentifier": "not-a-message-id"}]}])
    function = RecordingFunction(lambda event: next(responses, None))
    send(sqs, url, "m1", "m2")

    start_poller(function, report_batch_item_failures=True)

    wait_until(lambda: sum(map(len, function.batches)) == 4, "both messages again")
    assert Counter(body for batch in bodies(function) for body in batch) == {"m1": 2, "m2": 2}


def test_messages_that_match_no_filter_are_deleted_without_an_invocation(
    sqs: Any, queue: tuple[str, str], start_poller: PollerFactory
) -> None:
    url, _ = queue
    function = RecordingFunction()
    send(sqs, url, '{"kind": "job", "id": 1}', '{"kind": "noise"}', "plain text", '{"kind": "job", "id": 2}')

    start_poller(function, filter_patterns=(json.dumps({"body": {"kind": ["job"]}}),))

    wait_until(lambda: messages_left(sqs, url) == 0, "the queue to empty")
    delivered = sorted(json.loads(body)["id"] for batch in bodies(function) for body in batch)
    assert delivered == [1, 2]


def test_queue_url_from_arn(sqs: Any, queue: tuple[str, str]) -> None:
    url, arn = queue

    assert queue_url_from_arn(sqs, arn) == url


def test_mapping_config_reads_a_sam_sqs_event() -> None:
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:work"

    config = SqsMappingConfig.from_template_event(
        {
            "Queue": {"Fn::GetAtt": ["WorkQueue", "Arn"]},
            "BatchSize": 50,
            "MaximumBatchingWindowInSeconds": 2,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "Enabled": False,
        },
        lambda value: queue_arn if value == {"Fn::GetAtt": ["WorkQueue", "Arn"]} else "?",
    )

    assert config == SqsMappingConfig(
        queue_arn=queue_arn,
        batch_size=50,
        maximum_batching_window_seconds=2.0,
        report_batch_item_failures=True,
        enabled=False,
    )
    assert SqsMappingConfig.from_template_event({"Queue": queue_arn}, str) == SqsMappingConfig(queue_arn=queue_arn)


@pytest.mark.parametrize(
    "properties",
    [
        {"BatchSize": 11},  # above 10 needs a batching window
        {"BatchSize": 20, "MaximumBatchingWindowInSeconds": 1, "Queue": "arn:aws:sqs:us-east-1:1:work.fifo"},
        {"MaximumBatchingWindowInSeconds": 301},
        {"FunctionResponseTypes": ["Other"]},
        {"Unknown": True},
    ],
)
def test_mapping_config_rejects_what_lambda_or_the_local_stack_would_not_do(properties: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedMappingProperty):
        SqsMappingConfig.from_template_event({"Queue": "arn:aws:sqs:us-east-1:1:work", **properties}, str)


def test_a_slow_batch_holds_up_no_batch_received_after_it(sqs: Any) -> None:
    url, arn = create_queue(sqs, "held", VisibilityTimeout="30")  # in flight: received once only
    later_handled = threading.Event()

    def behave(event: dict[str, Any]) -> None:
        if event["Records"][0]["body"] == "slow":
            # Fails the batch (so the test) unless the later batch is handled meanwhile.
            assert later_handled.wait(timeout=10)
        else:
            later_handled.set()

    function = RecordingFunction(behave)
    poller = SqsPoller(
        sqs,
        function,
        SqsMappingConfig(queue_arn=arn, batch_size=1),
        wait_time_seconds=0,
        poll_interval=0.01,
        concurrent_batches=2,
    )
    send(sqs, url, "slow")
    poller.start()
    try:
        wait_until(lambda: function.batches, "the slow batch")
        send(sqs, url, "later")
        wait_until(lambda: messages_left(sqs, url) == 0, "both messages, handled and deleted")
    finally:
        poller.stop()
    assert [batch[0]["body"] for batch in function.batches] == ["slow", "later"]
