"""The local stack's DynamoDB stream and SQS pollers, with consumers that fail for real.

Runs tests/e2e/fixtures/event_sources/template.yaml: its event sources are declared the way
jobgate's own template declares them, and the local stack starts a poller for each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobgate_cli.local.stack import LocalStack, LocalStackConfig
from tests.e2e.conftest import aws_clients, eventually

FIXTURE = Path(__file__).parent / "fixtures" / "event_sources" / "template.yaml"
IDS = ["a-0", "a-1", "a-2", "poison-3", "a-4", "a-5", "a-6", "a-7"]
GOOD_IDS = [i for i in IDS if not i.startswith("poison")]

Aws = Callable[[str], Any]


@pytest.fixture(scope="module")
def event_stack() -> Iterator[LocalStack]:
    stack = LocalStack(LocalStackConfig(template_path=FIXTURE, port=0, aws_port=0, time_scale=0.2))
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def aws(event_stack: LocalStack) -> Aws:
    return aws_clients(event_stack)


@pytest.fixture(scope="module")
def source_changes(aws: Aws) -> None:
    """Insert the records (one poison among them), then modify the first one."""
    dynamodb = aws("dynamodb")
    for record_id in IDS:
        dynamodb.put_item(TableName="SourceTable", Item={"id": {"S": record_id}, "v": {"N": "1"}})
    dynamodb.put_item(TableName="SourceTable", Item={"id": {"S": "a-0"}, "v": {"N": "2"}})


def deliveries(aws: Aws, consumer: str, kind: str) -> list[list[str]]:
    items = aws("dynamodb").scan(TableName="DeliveriesTable")["Items"]
    return [
        [entry["S"] for entry in item["ids"]["L"]]
        for item in items
        if item["pk"]["S"].startswith(f"{consumer}#{kind}#")
    ]


def messages(aws: Aws, queue_name: str) -> list[dict[str, Any]]:
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0)
    return list(received.get("Messages", []))


def flat(batches: list[list[str]]) -> set[str]:
    return {record_id for batch in batches for record_id in batch}


@pytest.mark.usefixtures("source_changes")
def test_bisecting_isolates_the_poison_record_and_sends_only_it_to_the_failure_queue(aws: Aws) -> None:
    failures = eventually(lambda: messages(aws, "StreamFailuresQueue"), lambda found: len(found) >= 1)
    failure = json.loads(failures[0]["Body"])
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["functionArn"].endswith(":function:BisectingConsumer")
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
    # Every other record still got through, though batches containing the poison failed.
    done = eventually(lambda: deliveries(aws, "bisecting", "done"), lambda d: set(GOOD_IDS) <= flat(d))
    assert "poison-3" not in flat(done)
    assert len(failures) == 1


@pytest.mark.usefixtures("source_changes")
def test_a_reported_failure_retries_from_that_record_and_filters_drop_other_events(aws: Aws) -> None:
    attempts = eventually(
        lambda: deliveries(aws, "reporting", "attempt"),
        lambda found: any(batch[:1] == ["poison-3"] for batch in found),
    )
    done = deliveries(aws, "reporting", "done")
    # The records before the reported one were done once and are never delivered again ...
    assert ["a-0", "a-1", "a-2"] in done
    retries = [batch for batch in attempts if batch[:1] == ["poison-3"]]
    assert all("a-0" not in batch for batch in retries)
    # ... and the MODIFY of a-0 never reached this consumer: its filter takes INSERTs only.
    assert sum(batch.count("a-0") for batch in attempts) == 1
    # After its one retry the rest of that batch is given up (no bisecting here), as Lambda does.
    time.sleep(1.5)
    assert len(deliveries(aws, "reporting", "attempt")) == 2
    assert "poison-3" not in flat(deliveries(aws, "reporting", "done"))


@pytest.mark.usefixtures("source_changes")
def test_the_unfiltered_consumer_sees_the_modify_too(aws: Aws) -> None:
    done = eventually(lambda: deliveries(aws, "bisecting", "done"), lambda d: sum(b.count("a-0") for b in d) >= 2)
    assert sum(batch.count("a-0") for batch in done) == 2


def test_sqs_failures_reappear_and_end_in_the_dead_letter_queue(aws: Aws) -> None:
    sqs = aws("sqs")
    work_url = sqs.get_queue_url(QueueName="WorkQueue")["QueueUrl"]
    for body in ("ok-1", "poison-1", "ok-2"):
        sqs.send_message(QueueUrl=work_url, MessageBody=body)
    dead = eventually(lambda: messages(aws, "WorkDeadLetterQueue"), lambda found: len(found) >= 1)
    assert [m["Body"] for m in dead] == ["poison-1"]
    attributes = sqs.get_queue_attributes(QueueUrl=work_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
