"""moto's DynamoDB, as the tests and the local stack use it, honours conditions atomically."""

from __future__ import annotations

import gc

import boto3
import pytest
from moto.sqs.models import Message

from jobgate_cli.moto_fixes import keep_stream_iterators_on_the_live_shard, stop_tracking_model_instances
from tests.conftest import JOBS_TABLE
from tests.integration.test_lifecycle import race


def test_of_racing_conditional_writers_exactly_one_wins(aws_backend: None) -> None:
    client = boto3.client("dynamodb")
    key = {"pk": {"S": "JOB#race"}, "sk": {"S": "JOB"}}

    def write(writer: int) -> int:
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": JOBS_TABLE,
                        "Item": {**key, "version": {"N": "2"}, "writer": {"N": str(writer)}},
                        "ConditionExpression": "version = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                }
            ]
        )
        return writer

    for _ in range(10):
        client.put_item(TableName=JOBS_TABLE, Item={**key, "version": {"N": "1"}})
        outcomes = race(*[lambda w=w: write(w) for w in range(8)])
        assert len([o for o in outcomes if isinstance(o, int)]) == 1


def test_a_stream_reader_still_sees_writes_after_a_cancelled_transaction(aws_backend: None) -> None:
    keep_stream_iterators_on_the_live_shard()
    client = boto3.client("dynamodb")
    streams = boto3.client("dynamodbstreams")
    stream_arn = client.describe_table(TableName=JOBS_TABLE)["Table"]["LatestStreamArn"]
    shard_id = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="LATEST")
    key = {"pk": {"S": "JOB#stream"}, "sk": {"S": "JOB"}}
    client.put_item(TableName=JOBS_TABLE, Item={**key, "version": {"N": "1"}})
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": JOBS_TABLE,
                        "Item": {**key, "version": {"N": "9"}},
                        "ConditionExpression": "version = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                }
            ]
        )
    client.put_item(TableName=JOBS_TABLE, Item={**key, "version": {"N": "2"}})
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [r["dynamodb"]["NewImage"]["version"]["N"] for r in records] == ["1", "2"]


def test_moto_frees_what_it_no_longer_holds(aws_backend: None) -> None:
    """The local stack runs for hours on moto's SQS, S3 and Step Functions: memory must not only grow."""
    stop_tracking_model_instances()
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="freed")["QueueUrl"]
    for index in range(30):
        sqs.send_message(QueueUrl=url, MessageBody=f"message {index} " + "x" * 1000)
    received = 0
    while received < 30:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            received += 1

    gc.collect()
    assert Message.instances_tracked == []  # type: ignore[attr-defined]
    assert [obj for obj in gc.get_objects() if isinstance(obj, Message)] == []
