"""DynamoDB Local's ConsumedCapacity, which the meter bills, follows DynamoDB's rules.

Each figure below is computed by hand from the rules of the DynamoDB developer guide: a write
is 1 WRU per started KB of the item, twice in a transaction, plus the index's write; a read
is 1 RRU per started 4 KB, half when eventually consistent; a Query sums the items it read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jobgate_cli.billing import units
from jobgate_cli.local.endpoints import LocalEndpoints

TABLE = "billed"
VALUE = "x" * 1_500  # an item of ~1.5 KB: 2 write units, 1 read unit


@pytest.fixture(autouse=True)
def _environment() -> None:
    """These tests talk to DynamoDB Local, not to moto's in-process mock."""


@pytest.fixture(scope="module")
def dynamodb(dynamodb_local: LocalEndpoints) -> Iterator[Any]:
    client = dynamodb_local.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    yield client
    client.delete_table(TableName=TABLE)


def billed(operation: str, response: dict[str, Any]) -> float:
    return units.dynamodb_capacity(operation, response["ConsumedCapacity"]).get(TABLE, 0.0)


def test_a_write_costs_a_unit_per_started_kb_in_the_table_and_in_each_index_it_enters(dynamodb: Any) -> None:
    in_index = dynamodb.put_item(
        TableName=TABLE, Item={"pk": {"S": "a"}, "g": {"S": "1"}, "v": {"S": VALUE}}, ReturnConsumedCapacity="INDEXES"
    )
    outside = dynamodb.put_item(
        TableName=TABLE, Item={"pk": {"S": "b"}, "v": {"S": VALUE}}, ReturnConsumedCapacity="TOTAL"
    )
    assert billed("PutItem", in_index) == 2 + 2
    assert billed("PutItem", outside) == 2


def test_a_transaction_doubles_the_write(dynamodb: Any) -> None:
    response = dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": TABLE, "Item": {"pk": {"S": "c"}, "v": {"S": VALUE}}}}],
        ReturnConsumedCapacity="TOTAL",
    )
    assert billed("TransactWriteItems", response) == 2 * 2


def test_a_read_costs_a_unit_per_started_4_kb_and_half_of_it_eventually_consistent(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "d"}, "v": {"S": VALUE}})
    key = {"pk": {"S": "d"}}
    consistent = dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    eventual = dynamodb.get_item(TableName=TABLE, Key=key, ReturnConsumedCapacity="TOTAL")
    missing = dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": "none"}}, ConsistentRead=True, ReturnConsumedCapacity="TOTAL"
    )
    assert billed("GetItem", consistent) == 1
    assert billed("GetItem", eventual) == 0.5
    assert billed("GetItem", missing) == 1  # a read that finds nothing still costs the minimum


def test_a_transaction_of_several_items_bills_each_item_twice(dynamodb: Any) -> None:
    actions = [{"Put": {"TableName": TABLE, "Item": {"pk": {"S": f"t{n}"}, "v": {"S": VALUE}}}} for n in range(2)]
    response = dynamodb.transact_write_items(TransactItems=actions, ReturnConsumedCapacity="INDEXES")
    # DynamoDB Local answers 2 units for the whole transaction here; DynamoDB bills 2 x 2 per item.
    assert units.dynamodb_capacity("TransactWriteItems", response["ConsumedCapacity"])[TABLE] < 8
    assert units.transaction_capacity(actions, response["ConsumedCapacity"]) == {TABLE: 2 * 2 * 2}
