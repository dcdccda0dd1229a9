"""DynamoDB Time to Live for the local stack, as DynamoDB's background process does it.

DynamoDB Local 3.3.1 has TTL enabled and does delete expired items itself, but only a few
every ten seconds (measured: ~0.3 items/s), far behind a local stack's churn; moto never
deletes. So the sweeper deletes expired items of every table whose TTL is ENABLED (found with
DescribeTimeToLive, not a hand-kept list): an item is expired when its TTL attribute is a
top-level Number (epoch seconds) below the current time and no more than five years in the
past; items without the attribute, or with another type, are left alone (a Number comparison
never matches another type). Each delete is conditioned on the value seen, so an item whose
TTL was changed meanwhile stays. The deletes go through the ordinary API, so the table's
stream gets REMOVE records, as with DynamoDB's own TTL deletes; the sweeper notes each one in
`TtlDeletions`, so the stream pollers give those records the service identity DynamoDB gives
its own (and filters on `userIdentity` work as deployed).

The sweep is incremental: one filtered scan page (at most PAGE_ITEMS items read) at a time,
with a pause between pages, so a large table costs the engine a bounded share of its time
instead of a table-wide scan in one go; a new pass starts `interval` seconds after the last began.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from jobgate_cli.local.event_sources import BackgroundLoop

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

LOG = logging.getLogger(__name__)

# DynamoDB's TTL ignores expiry times more than five years in the past.
MAX_EXPIRED_AGE_SECONDS: Final = 5 * 365 * 24 * 3600


# A scan page reads at most this many items; the filter then keeps the expired ones.
PAGE_ITEMS: Final = 500
# Between two pages of a pass: writers get the engine to themselves at least this long.
PAGE_PAUSE_SECONDS: Final = 0.02


class TtlDeletions:
    """The items the sweeper deleted (the last `limit`), by table and key: a REMOVE record of
    one of them is a TTL delete. Every stream poller of the table asks, so nothing is consumed."""

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._deleted: OrderedDict[tuple[str, str], None] = OrderedDict()

    def add(self, table_name: str, key: Mapping[str, Any]) -> None:
        with self._lock:
            self._deleted[_entry(table_name, key)] = None
            while len(self._deleted) > self._limit:
                self._deleted.popitem(last=False)

    def discard(self, table_name: str, key: Mapping[str, Any]) -> None:
        with self._lock:
            self._deleted.pop(_entry(table_name, key), None)

    def includes(self, table_name: str, key: Mapping[str, Any]) -> bool:
        with self._lock:
            return _entry(table_name, key) in self._deleted


def _entry(table_name: str, key: Mapping[str, Any]) -> tuple[str, str]:
    return table_name, json.dumps(key, sort_keys=True)


@dataclass
class _TableCursor:
    """Where a pass is in one table."""

    table_name: str
    ttl_attribute: str
    key_names: list[str]
    start_key: dict[str, Any] | None = None
    done: bool = False


class TtlSweeper(BackgroundLoop):
    """Deletes expired items from every table with TTL enabled; a pass every `interval` seconds."""

    def __init__(
        self,
        dynamodb_client: DynamoDBClient,
        *,
        interval: float = 30.0,
        clock: Callable[[], float] = time.time,
        page_items: int = PAGE_ITEMS,
        page_pause: float = PAGE_PAUSE_SECONDS,
        deletions: TtlDeletions | None = None,
    ) -> None:
        super().__init__(name="ttl-sweeper", idle_interval=min(interval, 0.5))
        self._dynamodb = dynamodb_client
        self._deletions = deletions or TtlDeletions()
        self._clock = clock
        self._interval = interval
        self._page_items = page_items
        self._page_pause = page_pause
        self._pass: list[_TableCursor] = []
        self._next_pass_at = 0.0

    def poll_once(self) -> bool:
        """One page of the pass in progress (starting a pass when one is due); True while it goes on."""
        if not self._pass:
            if time.monotonic() < self._next_pass_at:
                return False
            self._next_pass_at = time.monotonic() + self._interval
            self._pass = self._ttl_tables()
        if self._pass:
            self._sweep_page(self._pass[0])
            if self._pass[0].done:
                self._pass.pop(0)
        if self._pass:
            self.pause(self._page_pause)
            return True
        return False

    def sweep_once(self) -> int:
        """A whole pass over every TTL-enabled table, now; the number of items deleted."""
        return sum(self.sweep_table(cursor.table_name, cursor.ttl_attribute) for cursor in self._ttl_tables())

    def sweep_table(self, table_name: str, ttl_attribute: str) -> int:
        cursor = self._cursor(table_name, ttl_attribute)
        deleted = 0
        while not cursor.done:
            deleted += self._sweep_page(cursor)
        return deleted

    def _ttl_tables(self) -> list[_TableCursor]:
        cursors = []
        for table_name in self._table_names():
            ttl = self._dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
            if ttl.get("TimeToLiveStatus") == "ENABLED" and "AttributeName" in ttl:
                cursors.append(self._cursor(table_name, ttl["AttributeName"]))
        return cursors

    def _cursor(self, table_name: str, ttl_attribute: str) -> _TableCursor:
        key_schema = self._dynamodb.describe_table(TableName=table_name)["Table"]["KeySchema"]
        return _TableCursor(table_name, ttl_attribute, [key["AttributeName"] for key in key_schema])

    def _sweep_page(self, cursor: _TableCursor) -> int:
        names = {f"#k{index}": name for index, name in enumerate(cursor.key_names)}
        names["#ttl"] = cursor.ttl_attribute
        now = self._clock()
        request: dict[str, Any] = {
            "TableName": cursor.table_name,
            "Limit": self._page_items,
            "ProjectionExpression": ", ".join(names),
            "FilterExpression": "#ttl >= :oldest AND #ttl < :now",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                ":oldest": {"N": _number(now - MAX_EXPIRED_AGE_SECONDS)},
                ":now": {"N": _number(now)},
            },
        }
        if cursor.start_key is not None:
            request["ExclusiveStartKey"] = cursor.start_key
        page = self._dynamodb.scan(**request)
        cursor.start_key = page.get("LastEvaluatedKey")
        cursor.done = cursor.start_key is None
        deleted = 0
        for item in page.get("Items", []):
            expires_at = item.get(cursor.ttl_attribute, {}).get("N")
            if expires_at is None or not _is_expired(float(expires_at), now):
                continue
            key = {name: item[name] for name in cursor.key_names}
            if self._delete_if_unchanged(cursor.table_name, key, cursor.ttl_attribute, expires_at):
                deleted += 1
        return deleted

    def _table_names(self) -> list[str]:
        return [name for page in self._dynamodb.get_paginator("list_tables").paginate() for name in page["TableNames"]]

    def _delete_if_unchanged(self, table_name: str, key: dict[str, Any], ttl_attribute: str, expires_at: str) -> bool:
        self._deletions.add(table_name, key)  # before the delete: its stream record may be read at once
        try:
            self._dynamodb.delete_item(
                TableName=table_name,
                Key=key,
                ConditionExpression="#ttl = :seen",
                ExpressionAttributeNames={"#ttl": ttl_attribute},
                ExpressionAttributeValues={":seen": {"N": expires_at}},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            self._deletions.discard(table_name, key)
            LOG.debug("%s: TTL of %s changed (or item gone) since the scan; kept", table_name, key)
            return False
        return True


def _number(value: float) -> str:
    return repr(float(value))


def _is_expired(expires_at: float, now: float) -> bool:
    return now - MAX_EXPIRED_AGE_SECONDS <= expires_at < now
