"""The DynamoDB stream event source mapping, against moto's real tables and streams."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from jobgate_cli.local.event_sources import Poller, UnsupportedMappingProperty
from jobgate_cli.local.streams import DynamoDBStreamPoller, StartingPosition, StreamMappingConfig
from tests.local.conftest import RecordingFunction, create_queue, drain, wait_until

TABLE = "events"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:on-event"


class Table:
    def __init__(self) -> None:
        self.client = boto3.client("dynamodb")
        description = self.client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        self.stream_arn: str = description["LatestStreamArn"]

    def put(self, item_id: str, value: str = "ok", **attributes: dict[str, Any]) -> None:
        self.client.put_item(TableName=TABLE, Item={"id": {"S": item_id}, "value": {"S": value}, **attributes})

    def put_many(self, *item_ids: str) -> None:
        for item_id in item_ids:
            self.put(item_id)


@pytest.fixture
def table(aws: None) -> Table:
    return Table()


@pytest.fixture
def destination(sqs: Any) -> tuple[str, str]:
    return create_queue(sqs, "on-failure")


PollerFactory = Callable[..., DynamoDBStreamPoller]


@pytest.fixture
def start_poller(table: Table, sqs: Any) -> Iterator[PollerFactory]:
    """Start a mapping on the table's stream; settings default to small, fast values."""
    started: list[Poller] = []  # also checks that the poller satisfies the Poller protocol

    def start(
        function: RecordingFunction,
        streams_client: Any = None,
        clock: Callable[[], float] = time.time,
        starting_position: StartingPosition = "TRIM_HORIZON",
        **settings: Any,
    ) -> DynamoDBStreamPoller:
        config = StreamMappingConfig(stream_arn=table.stream_arn, starting_position=starting_position, **settings)
        poller = DynamoDBStreamPoller(
            streams_client or boto3.client("dynamodbstreams"),
            sqs,
            function,
            config,
            function_arn=FUNCTION_ARN,
            poll_interval=0.01,
            shard_refresh_interval=0.05,
            retry_delay=0.01,
            clock=clock,
        )
        poller.start()
        started.append(poller)
        return poller

    yield start
    for poller in started:
        poller.stop()


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["dynamodb"]["Keys"]["id"]["S"] for record in records]


def delivered_ids(function: RecordingFunction) -> list[list[str]]:
    return [ids(batch) for batch in function.batches]


def sequence_number(function: RecordingFunction, item_id: str) -> str:
    for batch in function.batches:
        for record in batch:
            if record["dynamodb"]["Keys"]["id"]["S"] == item_id:
                return str(record["dynamodb"]["SequenceNumber"])
    raise AssertionError(f"{item_id} was never delivered")


def has_poison(event: dict[str, Any]) -> bool:
    return any(record["dynamodb"]["NewImage"]["value"]["S"] == "poison" for record in event["Records"])


def raise_on_poison(event: dict[str, Any]) -> None:
    if has_poison(event):
        raise ValueError("cannot process a poison record")


def test_records_arrive_in_lambdas_dynamodb_event_format(table: Table, start_poller: PollerFactory) -> None:
    function = RecordingFunction()
    table.put("a", "first", blob={"B": b"\x00\x01"})
    table.client.update_item(
        TableName=TABLE,
        Key={"id": {"S": "a"}},
        UpdateExpression="SET #v = :v",
        ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":v": {"S": "second"}},
    )
    table.client.delete_item(TableName=TABLE, Key={"id": {"S": "a"}})

    start_poller(function)

    insert, modify, remove = wait_until(lambda: [r for batch in function.batches for r in batch][:3], "3 records")
    assert [insert["eventName"], modify["eventName"], remove["eventName"]] == ["INSERT", "MODIFY", "REMOVE"]
    assert set(insert) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert insert["eventVersion"] == "1.1"
    assert insert["eventSource"] == "aws:dynamodb"
    assert insert["awsRegion"] == "us-east-1"
    assert insert["eventSourceARN"] == table.stream_arn
    created = insert["dynamodb"]["ApproximateCreationDateTime"]
    assert isinstance(created, float)
    assert created == int(created)  # epoch seconds, rounded down as DynamoDB Streams does
    assert insert["dynamodb"]["Keys"] == {"id": {"S": "a"}}
    assert insert["dynamodb"]["NewImage"] == {
        "id": {"S": "a"},
        "value": {"S": "first"},
        "blob": {"B": base64.b64encode(b"\x00\x01").decode()},
    }
    assert "OldImage" not in insert["dynamodb"]
    assert insert["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(insert["dynamodb"]["SizeBytes"], int)
    assert modify["dynamodb"]["OldImage"]["value"] == {"S": "first"}
    assert modify["dynamodb"]["NewImage"]["value"] == {"S": "second"}
    assert "NewImage" not in remove["dynamodb"]
    assert remove["dynamodb"]["OldImage"]["value"] == {"S": "second"}
    assert int(insert["dynamodb"]["SequenceNumber"]) < int(modify["dynamodb"]["SequenceNumber"])


def test_batch_size_caps_each_invocation(table: Table, start_poller: PollerFactory) -> None:
    function = RecordingFunction()
    table.put_many("r0", "r1", "r2", "r3", "r4")

    start_poller(function, batch_size=2)

    wait_until(lambda: sum(map(len, function.batches)) == 5, "all 5 records")
    assert delivered_ids(function) == [["r0", "r1"], ["r2", "r3"], ["r4"]]


def test_batching_window_gathers_records_written_apart(table: Table, start_poller: PollerFactory) -> None:
    function = RecordingFunction()
    start_poller(function, starting_position="LATEST", batch_size=10, maximum_batching_window_seconds=1.0)

    table.put_many("r0", "r1", "r2")

    wait_until(lambda: function.batches, "a batch")
    assert delivered_ids(function) == [["r0", "r1", "r2"]]


def test_a_full_batch_does_not_wait_for_the_window(table: Table, start_poller: PollerFactory) -> None:
    function = RecordingFunction()
    table.put_many("r0", "r1", "r2", "r3")

    start_poller(function, batch_size=2, maximum_batching_window_seconds=300)

    wait_until(lambda: len(function.batches) == 2, "two full batches (not 300 s)")
    assert delivered_ids(function) == [["r0", "r1"], ["r2", "r3"]]


def test_latest_skips_records_written_before_the_mapping_started(table: Table, start_poller: PollerFactory) -> None:
    function = RecordingFunction()
    table.put("old")
    start_poller(function, starting_position="LATEST")

    table.put("new")

    wait_until(lambda: function.batches, "a batch")
    assert delivered_ids(function) == [["new"]]


def test_records_of_a_shard_are_delivered_in_order_despite_failures(table: Table, start_poller: PollerFactory) -> None:
    succeeded: list[str] = []
    failed_once: set[str] = set()

    def fail_first_attempt_of_every_third(event: dict[str, Any]) -> None:
        batch_ids = ids(event["Records"])
        unlucky = [item_id for item_id in batch_ids if int(item_id[1:]) % 3 == 0 and item_id not in failed_once]
        if unlucky:
            failed_once.update(unlucky)
            raise RuntimeError(f"transient failure on {unlucky}")
        succeeded.extend(batch_ids)

    written = [f"r{index}" for index in range(20)]
    table.put_many(*written)

    start_poller(RecordingFunction(fail_first_attempt_of_every_third), batch_size=3)

    wait_until(lambda: len(succeeded) == 20, "all 20 records")
    assert succeeded == written


def test_filter_criteria_drop_records_that_match_no_filter(table: Table, start_poller: PollerFactory) -> None:
    function = RecordingFunction()
    patterns = (
        json.dumps({"dynamodb": {"NewImage": {"status": {"S": ["failed"]}}}}),
        json.dumps({"eventName": ["REMOVE"]}),
    )
    for item_id, status in [("j1", "ok"), ("j2", "failed"), ("j3", "pending"), ("j4", "failed")]:
        table.put(item_id, status=_s(status))
    table.client.delete_item(TableName=TABLE, Key={"id": {"S": "j1"}})

    start_poller(function, filter_patterns=patterns)

    # The REMOVE is the shard's last record: once it is delivered, every earlier record was delivered or dropped.
    wait_until(lambda: any(r["eventName"] == "REMOVE" for batch in function.batches for r in batch), "the REMOVE")
    records = [record for batch in function.batches for record in batch]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in records] == [
        ("INSERT", "j2"),
        ("INSERT", "j4"),
        ("REMOVE", "j1"),
    ]


def test_reported_item_failures_retry_from_the_lowest_reported_record(
    table: Table, start_poller: PollerFactory
) -> None:
    reported = threading.Event()

    def report_r3_and_r1_once(event: dict[str, Any]) -> Any:
        if reported.is_set():
            return {"batchItemFailures": []}
        reported.set()
        by_id = {r["dynamodb"]["Keys"]["id"]["S"]: r["dynamodb"]["SequenceNumber"] for r in event["Records"]}
        return {"batchItemFailures": [{"itemIdentifier": by_id["r3"]}, {"itemIdentifier": by_id["r1"]}]}

    function = RecordingFunction(report_r3_and_r1_once)
    table.put_many("r0", "r1", "r2", "r3", "r4")
    start_poller(function, batch_size=5, report_batch_item_failures=True)
    wait_until(lambda: len(function.batches) == 2, "the retry")

    table.put("sentinel")

    wait_until(lambda: len(function.batches) == 3, "the sentinel")
    assert delivered_ids(function) == [["r0", "r1", "r2", "r3", "r4"], ["r1", "r2", "r3", "r4"], ["sentinel"]]


def test_a_malformed_item_failure_response_fails_the_whole_batch(table: Table, start_poller: PollerFactory) -> None:
    responses = iter([{"batchItemFailures": [{"itemIdentifier": ""}]}, {"batchItemFailures": [{"id": "x"}]}])
    function = RecordingFunction(lambda event: next(responses, None))
    table.put_many("r0", "r1", "r2")

    start_poller(function, batch_size=3, report_batch_item_failures=True)

    wait_until(lambda: len(function.batches) == 3, "two retries")
    assert delivered_ids(function) == [["r0", "r1", "r2"]] * 3


def test_bisect_isolates_a_poison_record_and_sends_only_it_to_the_destination(
    table: Table, start_poller: PollerFactory, sqs: Any, destination: tuple[str, str]
) -> None:
    succeeded: list[str] = []

    def process(event: dict[str, Any]) -> None:
        raise_on_poison(event)
        succeeded.extend(ids(event["Records"]))

    function = RecordingFunction(process)
    for item_id in ("r0", "r1", "r2", "r3"):
        table.put(item_id, "poison" if item_id == "r2" else "ok")
    destination_url, destination_arn = destination

    start_poller(
        function,
        batch_size=4,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=1,
        on_failure_destination=destination_arn,
    )

    wait_until(lambda: "r3" in succeeded, "r3, after the poison record")
    table.put("sentinel")
    wait_until(lambda: "sentinel" in succeeded, "the sentinel")
    assert succeeded == ["r0", "r1", "r3", "sentinel"]
    # The poison record was tried alone twice: once after the halving, once as its one retry.
    assert delivered_ids(function).count(["r2"]) == 2
    (message,) = drain(sqs, destination_url)
    record = json.loads(message["Body"])
    poison_sequence = sequence_number(function, "r2")
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["functionArn"] == FUNCTION_ARN
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["version"] == "1.0"
    assert datetime.strptime(record["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    batch_info = record["DDBStreamBatchInfo"]
    assert batch_info["shardId"].startswith("shardId-")
    assert batch_info["startSequenceNumber"] == batch_info["endSequenceNumber"] == poison_sequence
    assert batch_info["batchSize"] == 1
    assert batch_info["streamArn"] == table.stream_arn
    assert datetime.strptime(batch_info["approximateArrivalOfFirstRecord"], "%Y-%m-%dT%H:%M:%SZ")
    assert datetime.strptime(batch_info["approximateArrivalOfLastRecord"], "%Y-%m-%dT%H:%M:%SZ")


def test_retries_are_bounded_then_the_batch_goes_to_the_destination_and_the_shard_moves_on(
    table: Table, start_poller: PollerFactory, sqs: Any, destination: tuple[str, str]
) -> None:
    function = RecordingFunction(raise_on_poison)
    table.put("p", "poison")
    table.put("g")
    destination_url, destination_arn = destination
    start_poller(function, batch_size=10, maximum_retry_attempts=2, on_failure_destination=destination_arn)
    messages = wait_until(lambda: drain(sqs, destination_url), "the on-failure record")

    table.put("sentinel")

    wait_until(lambda: ["sentinel"] in delivered_ids(function), "the sentinel")
    assert delivered_ids(function) == [["p", "g"]] * 3 + [["sentinel"]]  # the first attempt and 2 retries
    (message,) = messages
    record = json.loads(message["Body"])
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["DDBStreamBatchInfo"]["batchSize"] == 2
    assert record["DDBStreamBatchInfo"]["startSequenceNumber"] == sequence_number(function, "p")
    assert record["DDBStreamBatchInfo"]["endSequenceNumber"] == sequence_number(function, "g")


def test_the_shard_never_moves_past_a_failing_record(table: Table, start_poller: PollerFactory) -> None:
    poisoned = threading.Event()
    poisoned.set()

    def fail_while_poisoned(event: dict[str, Any]) -> None:
        if poisoned.is_set() and has_poison(event):
            raise ValueError("downstream is down")

    function = RecordingFunction(fail_while_poisoned)
    table.put("p", "poison")
    table.put("g")
    start_poller(function, batch_size=1)  # retries until the record expires (the default)

    wait_until(lambda: len(function.batches) >= 3, "three attempts at p")
    assert set(map(tuple, delivered_ids(function))) == {("p",)}
    poisoned.clear()

    wait_until(lambda: ["g"] in delivered_ids(function), "g, once p succeeds")
    batches = delivered_ids(function)
    assert batches[-2:] == [["p"], ["g"]]
    assert set(map(tuple, batches[:-1])) == {("p",)}


def test_records_older_than_the_maximum_age_are_given_up(
    table: Table, start_poller: PollerFactory, sqs: Any, destination: tuple[str, str]
) -> None:
    skew = {"seconds": 0.0}
    function = RecordingFunction(raise_on_poison)
    table.put("p", "poison")
    destination_url, destination_arn = destination
    start_poller(
        function,
        maximum_record_age_seconds=60,
        on_failure_destination=destination_arn,
        clock=lambda: datetime.now(UTC).timestamp() + skew["seconds"],
    )
    wait_until(lambda: len(function.batches) >= 2, "a retry")

    skew["seconds"] = 120  # the record is now two minutes old

    (message,) = wait_until(lambda: drain(sqs, destination_url), "the on-failure record")
    skew["seconds"] = 0
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["DDBStreamBatchInfo"]["startSequenceNumber"] == sequence_number(function, "p")
    table.put("sentinel")
    wait_until(lambda: ["sentinel"] in delivered_ids(function), "the sentinel")


def test_restarting_resumes_after_the_last_record_done(table: Table, start_poller: PollerFactory) -> None:
    function = RecordingFunction()
    table.put_many("r0", "r1")
    poller = start_poller(function)
    wait_until(lambda: sum(map(len, function.batches)) == 2, "r0 and r1")
    poller.stop()

    table.put("r2")
    poller.start()

    wait_until(lambda: ["r2"] in delivered_ids(function), "r2")
    assert [item_id for batch in delivered_ids(function) for item_id in batch] == ["r0", "r1", "r2"]


class ExpiringIterators:
    """The real streams client, except that every second GetRecords finds its iterator expired."""

    def __init__(self) -> None:
        self._client = boto3.client("dynamodbstreams")
        self._calls = 0
        self.expired = 0

    def describe_stream(self, **kwargs: Any) -> Any:
        return self._client.describe_stream(**kwargs)

    def get_shard_iterator(self, **kwargs: Any) -> Any:
        return self._client.get_shard_iterator(**kwargs)

    def get_records(self, **kwargs: Any) -> Any:
        self._calls += 1
        if self._calls % 2 == 0:
            self.expired += 1
            raise ClientError({"Error": {"Code": "ExpiredIteratorException", "Message": "expired"}}, "GetRecords")
        return self._client.get_records(**kwargs)


def test_expired_iterators_are_replaced_without_losing_or_repeating_records(
    table: Table, start_poller: PollerFactory
) -> None:
    function = RecordingFunction()
    streams = ExpiringIterators()
    table.put_many("r0", "r1", "r2")
    start_poller(function, streams_client=streams, batch_size=2)
    wait_until(lambda: sum(map(len, function.batches)) == 3, "the first records")

    table.put_many("r3", "r4", "r5")

    wait_until(lambda: sum(map(len, function.batches)) == 6, "all records")
    assert [item_id for batch in delivered_ids(function) for item_id in batch] == [f"r{i}" for i in range(6)]
    assert streams.expired > 0


class SplittingStream:
    """An in-memory DynamoDB Streams API whose shards a test can close and split (moto has one shard, ever)."""

    def __init__(self, stream_arn: str) -> None:
        self.stream_arn = stream_arn
        self._lock = threading.Lock()
        self._shards: dict[str, dict[str, Any]] = {}
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._next_sequence = 100
        self.shard_list_reads = 0

    def add_shard(self, shard_id: str, parent_id: str | None = None) -> None:
        with self._lock:
            shard: dict[str, Any] = {"ShardId": shard_id, "SequenceNumberRange": {"StartingSequenceNumber": "1"}}
            if parent_id:
                shard["ParentShardId"] = parent_id
            self._shards[shard_id] = shard
            self._records[shard_id] = []

    def put(self, shard_id: str, item_id: str) -> None:
        with self._lock:
            self._next_sequence += 1
            self._records[shard_id].append(
                {
                    "eventID": item_id,
                    "eventName": "INSERT",
                    "dynamodb": {
                        "ApproximateCreationDateTime": datetime.now(UTC),
                        "Keys": {"id": {"S": item_id}},
                        "NewImage": {"id": {"S": item_id}, "value": {"S": "ok"}},
                        "SequenceNumber": str(self._next_sequence),
                        "SizeBytes": 10,
                        "StreamViewType": "NEW_IMAGE",
                    },
                }
            )

    def close(self, shard_id: str) -> None:
        with self._lock:
            self._shards[shard_id]["SequenceNumberRange"]["EndingSequenceNumber"] = str(self._next_sequence)

    def describe_stream(self, **kwargs: Any) -> Any:
        with self._lock:
            self.shard_list_reads += 1
            shards = json.loads(json.dumps(list(self._shards.values())))
        return {"StreamDescription": {"StreamArn": self.stream_arn, "Shards": shards}}

    def get_shard_iterator(self, **kwargs: Any) -> Any:
        shard_id, kind = kwargs["ShardId"], kwargs["ShardIteratorType"]
        with self._lock:
            records = self._records[shard_id]
            if kind == "TRIM_HORIZON":
                index = 0
            elif kind == "LATEST":
                index = len(records)
            else:
                after = int(kwargs["SequenceNumber"])
                index = sum(1 for record in records if int(record["dynamodb"]["SequenceNumber"]) <= after)
        return {"ShardIterator": f"{shard_id}|{index}"}

    def get_records(self, **kwargs: Any) -> Any:
        shard_id, index_text = kwargs["ShardIterator"].split("|")
        index = int(index_text)
        with self._lock:
            records = self._records[shard_id][index : index + kwargs["Limit"]]
            end = index + len(records)
            closed = "EndingSequenceNumber" in self._shards[shard_id]["SequenceNumberRange"]
            drained = end == len(self._records[shard_id])
        response: dict[str, Any] = {"Records": records}
        if not (closed and drained):
            response["NextShardIterator"] = f"{shard_id}|{end}"
        return response


def test_a_child_shard_is_read_only_after_its_parent_is_finished(table: Table, start_poller: PollerFactory) -> None:
    stream = SplittingStream(table.stream_arn)
    split_seen_at: list[int] = []

    def fail_p2_until_the_split_was_seen_three_times(event: dict[str, Any]) -> None:
        # Keeps p2 (the parent's last record) unfinished while the poller re-reads a shard list with the child.
        if "p2" in ids(event["Records"]) and stream.shard_list_reads < split_seen_at[0] + 3:
            raise RuntimeError("not yet")

    function = RecordingFunction(fail_p2_until_the_split_was_seen_three_times)
    parent = "shardId-00000000000000000001-parent00"
    child = "shardId-00000000000000000002-child000"
    stream.add_shard(parent)
    stream.put(parent, "p1")
    start_poller(function, streams_client=stream)
    wait_until(lambda: ["p1"] in delivered_ids(function), "p1")

    # The shard splits: the child has a record while the parent still has one to deliver.
    split_seen_at.append(stream.shard_list_reads)
    stream.put(parent, "p2")
    stream.close(parent)
    stream.add_shard(child, parent_id=parent)
    stream.put(child, "c1")

    wait_until(lambda: ["c1"] in delivered_ids(function), "c1")
    delivered = [item_id for batch in delivered_ids(function) for item_id in batch]
    assert delivered[-2:] == ["p2", "c1"]
    assert set(delivered[:-1]) == {"p1", "p2"}


def test_mapping_config_reads_a_sam_dynamodb_event() -> None:
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:failures"
    stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/jobs/stream/2024-01-01T00:00:00.000"
    intrinsics = {"JobsTable": stream_arn, "Failures": queue_arn}
    pattern = '{"dynamodb": {"NewImage": {"status": {"S": ["failed"]}}}}'

    config = StreamMappingConfig.from_template_event(
        {
            "Stream": {"Fn::GetAtt": ["JobsTable", "StreamArn"]},
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 25,
            "MaximumBatchingWindowInSeconds": 2,
            "FilterCriteria": {"Filters": [{"Pattern": pattern}]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 3,
            "MaximumRecordAgeInSeconds": 3600,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Failures", "Arn"]}, "Type": "SQS"}},
        },
        lambda value: intrinsics[value["Fn::GetAtt"][0]],
    )

    assert config == StreamMappingConfig(
        stream_arn=stream_arn,
        starting_position="TRIM_HORIZON",
        batch_size=25,
        maximum_batching_window_seconds=2.0,
        filter_patterns=(pattern,),
        report_batch_item_failures=True,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=3,
        maximum_record_age_seconds=3600.0,
        on_failure_destination=queue_arn,
    )


def test_mapping_config_has_lambdas_defaults() -> None:
    config = StreamMappingConfig.from_template_event({"Stream": "arn", "StartingPosition": "LATEST"}, str)

    assert (config.batch_size, config.maximum_batching_window_seconds) == (100, 0.0)
    assert (config.maximum_retry_attempts, config.maximum_record_age_seconds) == (-1, -1)
    assert not config.bisect_batch_on_function_error
    assert not config.report_batch_item_failures
    assert config.on_failure_destination is None
    assert config.enabled


@pytest.mark.parametrize(
    "properties",
    [
        {"StartingPosition": "AT_TIMESTAMP"},
        {"BatchSize": 0},
        {"BatchSize": 10_001},
        {"MaximumRetryAttempts": -2},
        {"MaximumRecordAgeInSeconds": 30},
        {"TumblingWindowInSeconds": 60},
        {"ParallelizationFactor": 2},
        {"FunctionResponseTypes": ["Unknown"]},
        {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sns:us-east-1:123456789012:topic"}}},
    ],
)
def test_mapping_config_rejects_what_lambda_or_the_local_stack_would_not_do(properties: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedMappingProperty):
        StreamMappingConfig.from_template_event({"Stream": "arn", "StartingPosition": "LATEST", **properties}, str)


def _s(value: str) -> dict[str, Any]:
    return {"S": value}
