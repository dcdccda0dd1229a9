"""moto, as the tests and the local stack use it, behaves as AWS does where jobgate depends on it."""

from __future__ import annotations

import gc
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sqs.models import Message

from jobgate_cli.local.eventbridge import step_functions_status_event
from jobgate_cli.moto_fixes import (
    keep_stream_iterators_on_the_live_shard,
    run_express_executions_as_aws_does,
    stop_tracking_model_instances,
)
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


def test_express_executions_run_as_aws_runs_them_and_send_no_status_events() -> None:
    run_express_executions_as_aws_does()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name="us-east-1")
        role = "arn:aws:iam::123456789012:role/jobgate-test"
        definition = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 1, "End": True}}})
        express = client.create_state_machine(name="m-express", definition=definition, roleArn=role, type="EXPRESS")
        standard = client.create_state_machine(name="m", definition=definition, roleArn=role, type="STANDARD")
        # Express: every start is a run of its own, whatever its name, and cannot be looked at
        first = client.start_execution(stateMachineArn=express["stateMachineArn"], name="job_1", input="{}")
        second = client.start_execution(stateMachineArn=express["stateMachineArn"], name="job_1", input="{}")
        assert first["executionArn"] != second["executionArn"]
        assert first["executionArn"].startswith("arn:aws:states:us-east-1:123456789012:express:m-express:job_1:")
        for call in (client.describe_execution, client.get_execution_history, client.stop_execution):
            with pytest.raises(ClientError, match="Resource type not valid in this context: express"):
                call(executionArn=first["executionArn"])
        # Standard: a repeat of a running execution's start is idempotent, and it can be described
        started = client.start_execution(stateMachineArn=standard["stateMachineArn"], name="job_1", input="{}")
        again = client.start_execution(stateMachineArn=standard["stateMachineArn"], name="job_1", input="{}")
        assert again["executionArn"] == started["executionArn"]
        assert client.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING"
    # AWS sends EventBridge status changes for Standard executions only
    assert step_functions_status_event({"executionArn": first["executionArn"]}) is None
    event = step_functions_status_event({"executionArn": started["executionArn"]})
    assert event is not None
    assert event["detail-type"] == "Step Functions Execution Status Change"
