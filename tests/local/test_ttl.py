"""The TTL sweeper: DynamoDB's expiry of items, on DynamoDB Local (the local stack's engine).

DynamoDB Local deletes expired items itself, but only a few every ten seconds; these tests
use expiry times that are in the past for the sweeper's clock and in the future for DynamoDB
Local's, so every deletion seen here is the sweeper's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from jobgate_cli.local.endpoints import LocalEndpoints
from jobgate_cli.local.event_sources import Poller
from jobgate_cli.local.streams import lambda_stream_record
from jobgate_cli.local.ttl import TtlDeletions, TtlSweeper
from tests.local.conftest import wait_until

FIVE_YEARS = 5 * 365 * 24 * 3600
# The sweeper's clock: six years ahead, so even "more than five years ago" is still the future
# for DynamoDB Local's own TTL, which would otherwise delete items behind these tests' backs.
NOW = float(int(time.time()) + FIVE_YEARS + 365 * 24 * 3600)


@pytest.fixture(autouse=True)
def _environment() -> None:
    """These tests talk to DynamoDB Local, not to moto's in-process mock."""


@pytest.fixture(scope="module")
def endpoints(dynamodb_local: LocalEndpoints) -> LocalEndpoints:
    return dynamodb_local


@pytest.fixture
def dynamodb(endpoints: LocalEndpoints) -> Iterator[Any]:
    client = endpoints.client("dynamodb")
    yield client
    for name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)


@pytest.fixture
def streams(endpoints: LocalEndpoints) -> Any:
    return endpoints.client("dynamodbstreams")


def create_table(dynamodb: Any, name: str, ttl_attribute: str | None) -> str:
    """A table keyed by (tenant, id), with a stream; returns the stream ARN."""
    description = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "tenant", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "tenant", "AttributeType": "S"},
            {"AttributeName": "id", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    if ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
        )
    return str(description["LatestStreamArn"])


def put(dynamodb: Any, table: str, item_id: str, **attributes: dict[str, Any]) -> None:
    dynamodb.put_item(TableName=table, Item={"tenant": {"S": "acme"}, "id": {"S": item_id}, **attributes})


def remaining_ids(dynamodb: Any, table: str) -> set[str]:
    return {item["id"]["S"] for item in dynamodb.scan(TableName=table)["Items"]}


def stream_records(streams: Any, stream_arn: str) -> list[dict[str, Any]]:
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return list(streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"])


def test_expired_items_are_deleted_and_others_kept(dynamodb: Any) -> None:
    create_table(dynamodb, "jobs", "expiresAt")
    put(dynamodb, "jobs", "expired", expiresAt={"N": str(int(NOW) - 10)})
    put(dynamodb, "jobs", "expired-fraction", expiresAt={"N": str(NOW - 0.5)})
    put(dynamodb, "jobs", "future", expiresAt={"N": str(int(NOW) + 10)})
    put(dynamodb, "jobs", "no-ttl")
    put(dynamodb, "jobs", "string-ttl", expiresAt={"S": str(int(NOW) - 10)})
    put(dynamodb, "jobs", "list-ttl", expiresAt={"L": [{"N": str(int(NOW) - 10)}]})
    put(dynamodb, "jobs", "over-five-years-ago", expiresAt={"N": str(int(NOW) - FIVE_YEARS - 10)})

    deleted = TtlSweeper(dynamodb, clock=lambda: NOW).sweep_once()

    assert deleted == 2
    assert remaining_ids(dynamodb, "jobs") == {"future", "no-ttl", "string-ttl", "list-ttl", "over-five-years-ago"}


def test_only_tables_with_ttl_enabled_are_swept(dynamodb: Any) -> None:
    create_table(dynamodb, "with-ttl", "expiresAt")
    create_table(dynamodb, "without-ttl", None)
    create_table(dynamodb, "other-attribute", "purgeAt")
    for table in ("with-ttl", "without-ttl", "other-attribute"):
        put(dynamodb, table, "old", expiresAt={"N": str(int(NOW) - 10)})

    TtlSweeper(dynamodb, clock=lambda: NOW).sweep_once()

    assert remaining_ids(dynamodb, "with-ttl") == set()
    assert remaining_ids(dynamodb, "without-ttl") == {"old"}
    assert remaining_ids(dynamodb, "other-attribute") == {"old"}


def test_the_sweep_pages_through_large_tables(dynamodb: Any) -> None:
    create_table(dynamodb, "jobs", "expiresAt")
    padding = "x" * 20_000  # ~60 items exceed a 1 MB scan page
    for index in range(120):
        put(dynamodb, "jobs", f"job-{index:03d}", expiresAt={"N": str(int(NOW) - 10)}, padding={"S": padding})
    assert "LastEvaluatedKey" in dynamodb.scan(TableName="jobs")  # the table really takes several pages

    assert TtlSweeper(dynamodb, clock=lambda: NOW).sweep_once() == 120
    assert remaining_ids(dynamodb, "jobs") == set()


class RenewingBeforeEachDelete:
    """The real client, except that another writer extends the item's TTL between the scan and the delete."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_item(self, **kwargs: Any) -> Any:
        renewed = {**kwargs["Key"], "expiresAt": {"N": str(int(NOW) + 3600)}}
        self._client.put_item(TableName=kwargs["TableName"], Item=renewed)
        return self._client.delete_item(**kwargs)


def test_an_item_whose_ttl_changed_since_the_scan_is_kept(dynamodb: Any) -> None:
    create_table(dynamodb, "jobs", "expiresAt")
    put(dynamodb, "jobs", "renewed", expiresAt={"N": str(int(NOW) - 10)})
    racing_client: Any = RenewingBeforeEachDelete(dynamodb)

    assert TtlSweeper(racing_client, clock=lambda: NOW).sweep_once() == 0
    assert remaining_ids(dynamodb, "jobs") == {"renewed"}


def test_deletions_emit_remove_stream_records(dynamodb: Any, streams: Any) -> None:
    stream_arn = create_table(dynamodb, "jobs", "expiresAt")
    put(dynamodb, "jobs", "expired", expiresAt={"N": str(int(NOW) - 10)})

    TtlSweeper(dynamodb, clock=lambda: NOW).sweep_once()

    records = stream_records(streams, stream_arn)
    assert [record["eventName"] for record in records] == ["INSERT", "REMOVE"]
    assert records[1]["dynamodb"]["Keys"] == {"tenant": {"S": "acme"}, "id": {"S": "expired"}}
    assert records[1]["dynamodb"]["OldImage"]["expiresAt"] == {"N": str(int(NOW) - 10)}


def test_the_sweepers_deletes_reach_functions_as_ttl_deletes_and_other_deletes_do_not(
    dynamodb: Any, streams: Any
) -> None:
    stream_arn = create_table(dynamodb, "jobs", "expiresAt")
    put(dynamodb, "jobs", "expired", expiresAt={"N": str(int(NOW) - 10)})
    put(dynamodb, "jobs", "purged")
    deletions = TtlDeletions()

    TtlSweeper(dynamodb, clock=lambda: NOW, deletions=deletions).sweep_once()
    dynamodb.delete_item(TableName="jobs", Key={"tenant": {"S": "acme"}, "id": {"S": "purged"}})

    removes = [
        lambda_stream_record(record, stream_arn, deletions)
        for record in stream_records(streams, stream_arn)
        if record["eventName"] == "REMOVE"
    ]
    identities = {r["dynamodb"]["Keys"]["id"]["S"]: r.get("userIdentity") for r in removes}
    assert identities == {"expired": {"type": "Service", "principalId": "dynamodb.amazonaws.com"}, "purged": None}


def test_the_sweeper_runs_on_its_own_every_interval(dynamodb: Any) -> None:
    create_table(dynamodb, "jobs", "expiresAt")
    sweeper: Poller = TtlSweeper(dynamodb, interval=0.01, clock=lambda: time.time() + 3600)
    sweeper.start()
    try:
        put(dynamodb, "jobs", "expires-soon", expiresAt={"N": str(int(time.time()) + 60)})

        wait_until(lambda: not remaining_ids(dynamodb, "jobs"), "the item to expire")
    finally:
        sweeper.stop()


class CountingScans:
    """The real client, counting the scan pages asked for."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.scans: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def scan(self, **kwargs: Any) -> Any:
        self.scans.append(kwargs)
        return self._client.scan(**kwargs)


def test_a_pass_goes_one_filtered_page_at_a_time(dynamodb: Any) -> None:
    create_table(dynamodb, "jobs", "expiresAt")
    for index in range(25):
        put(dynamodb, "jobs", f"expired-{index:02d}", expiresAt={"N": str(int(NOW) - 10)})
    for index in range(5):
        put(dynamodb, "jobs", f"future-{index}", expiresAt={"N": str(int(NOW) + 10)})
    counting: Any = CountingScans(dynamodb)
    sweeper = TtlSweeper(counting, clock=lambda: NOW, page_items=10, page_pause=0)

    assert sweeper.poll_once() is True  # one page done, the pass goes on
    assert len(counting.scans) == 1
    assert counting.scans[0]["Limit"] == 10
    assert "FilterExpression" in counting.scans[0]
    assert 20 <= len(remaining_ids(dynamodb, "jobs")) < 30

    steps = 1
    while sweeper.poll_once():
        steps += 1
        assert steps < 10, "the pass never ended"
    assert steps >= 3  # 30 items, 10 per page
    assert remaining_ids(dynamodb, "jobs") == {f"future-{index}" for index in range(5)}
    assert sweeper.poll_once() is False  # the next pass waits for its interval


def test_dynamodb_locals_own_ttl_deletes_reach_functions_as_dynamodb_sends_them(dynamodb: Any, streams: Any) -> None:
    """DynamoDB Local names its TTL deletions "UNKNOWN_TO_SDK_VERSION"; Lambda gets REMOVE from DynamoDB."""
    stream_arn = create_table(dynamodb, "jobs", "expiresAt")
    put(dynamodb, "jobs", "expired", expiresAt={"N": str(int(time.time()) - 10)})

    records = wait_until(
        lambda: [record for record in stream_records(streams, stream_arn) if "NewImage" not in record["dynamodb"]],
        "DynamoDB Local to expire the item",
        timeout=60,
    )

    delivered = lambda_stream_record(records[0], stream_arn)
    assert delivered["eventName"] == "REMOVE"
    assert delivered["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert delivered["dynamodb"]["Keys"] == {"tenant": {"S": "acme"}, "id": {"S": "expired"}}
