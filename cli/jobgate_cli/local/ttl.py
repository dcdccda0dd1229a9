"""DynamoDB Time to Live for the local stack: moto 5.2.5 reports TTL ENABLED but never deletes.

Every `interval` seconds the sweeper finds the tables whose TTL is ENABLED (from
DescribeTimeToLive, not a hand-kept list) and deletes their expired items, as DynamoDB's
background process does: an item is expired when its TTL attribute is a top-level Number
(epoch seconds) below the current time, and no more than five years in the past; items
without the attribute, or with another type, are left alone. Each delete is conditioned on
the value seen, so an item whose TTL was changed meanwhile stays. The deletes go through the
ordinary API, so the table's stream gets REMOVE records, as with DynamoDB's own TTL deletes.
(DynamoDB also marks those records with userIdentity "dynamodb.amazonaws.com"; moto cannot.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from jobgate_cli.local.event_sources import BackgroundLoop

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

LOG = logging.getLogger(__name__)

# DynamoDB's TTL ignores expiry times more than five years in the past.
MAX_EXPIRED_AGE_SECONDS: Final = 5 * 365 * 24 * 3600


class TtlSweeper(BackgroundLoop):
    """Deletes expired items from every table with TTL enabled, every `interval` seconds."""

    def __init__(
        self, dynamodb_client: DynamoDBClient, *, interval: float = 5.0, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(name="ttl-sweeper", idle_interval=interval)
        self._dynamodb = dynamodb_client
        self._clock = clock

    def poll_once(self) -> bool:
        self.sweep_once()
        return False

    def sweep_once(self) -> int:
        """Sweep every TTL-enabled table once; the number of items deleted."""
        deleted = 0
        for table_name in self._table_names():
            ttl = self._dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
            if ttl.get("TimeToLiveStatus") == "ENABLED" and "AttributeName" in ttl:
                deleted += self.sweep_table(table_name, ttl["AttributeName"])
        return deleted

    def sweep_table(self, table_name: str, ttl_attribute: str) -> int:
        key_names = [
            key["AttributeName"] for key in self._dynamodb.describe_table(TableName=table_name)["Table"]["KeySchema"]
        ]
        names = {f"#k{index}": name for index, name in enumerate(key_names)}
        names["#ttl"] = ttl_attribute
        now = self._clock()
        deleted = 0
        for page in self._dynamodb.get_paginator("scan").paginate(
            TableName=table_name,
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
        ):
            for item in page.get("Items", []):
                expires_at = item.get(ttl_attribute, {}).get("N")
                if expires_at is None or not _is_expired(float(expires_at), now):
                    continue
                if self._delete_if_unchanged(
                    table_name, {name: item[name] for name in key_names}, ttl_attribute, expires_at
                ):
                    deleted += 1
        return deleted

    def _table_names(self) -> list[str]:
        return [name for page in self._dynamodb.get_paginator("list_tables").paginate() for name in page["TableNames"]]

    def _delete_if_unchanged(self, table_name: str, key: dict[str, Any], ttl_attribute: str, expires_at: str) -> bool:
        try:
            self._dynamodb.delete_item(
                TableName=table_name,
                Key=key,
                ConditionExpression="#ttl = :seen",
                ExpressionAttributeNames={"#ttl": ttl_attribute},
                ExpressionAttributeValues={":seen": {"N": expires_at}},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            LOG.debug("%s: TTL of %s changed (or item gone) since the scan; kept", table_name, key)
            return False
        return True


def _is_expired(expires_at: float, now: float) -> bool:
    return now - MAX_EXPIRED_AGE_SECONDS <= expires_at < now
