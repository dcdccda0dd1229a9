"""moto's DynamoDB, as the tests and the local stack use it, honours conditions atomically."""

from __future__ import annotations

import boto3

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
