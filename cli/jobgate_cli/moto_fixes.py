"""Where moto departs from AWS in ways jobgate depends on, make it behave like AWS.

DynamoDB evaluates a ConditionExpression and applies the write as one atomic step, so of
two concurrent writers conditioned on the same version exactly one wins. moto 5.2.5 does
the check and the write without a lock: under threads both can win (measured: 5 of 20
trials of 8 racing writers let 2-3 win) and iteration can fail with "dictionary changed
size". The job status machine relies on that atomicity, so tests and the local stack
serialize moto's DynamoDB requests. Pinned moto: re-check this when upgrading it.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.models import ShardIterator

_DYNAMODB_LOCK = threading.RLock()
_PATCHED_MARKER = "_jobgate_atomic"


def make_dynamodb_requests_atomic() -> None:
    """Run each moto DynamoDB request under one lock (idempotent)."""
    original = DynamoHandler.call_action
    if getattr(original, _PATCHED_MARKER, False):
        return

    @functools.wraps(original)
    def call_action_atomically(self: DynamoHandler, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_LOCK:
            return original(self, *args, **kwargs)

    setattr(call_action_atomically, _PATCHED_MARKER, True)
    DynamoHandler.call_action = call_action_atomically  # type: ignore[method-assign]


def keep_stream_iterators_on_the_live_shard() -> None:
    """A cancelled TransactWriteItems must not strand DynamoDB Streams readers (idempotent).

    moto 5.2.5 rolls a cancelled transaction back by putting a deep copy of the table in
    place, stream shard included; iterators keep reading the old shard object and see no
    new record again, so a stream poller goes silent after the first conflicting write
    (parallel steps of one job race on it). Each read here follows the table's live shard.
    """
    original = ShardIterator.get
    if getattr(original, _PATCHED_MARKER, False):
        return

    @functools.wraps(original)
    def get_from_live_shard(self: ShardIterator, limit: int = 1000) -> dict[str, Any]:
        table = self.streams_backend.dynamodb.tables.get(self.stream_shard.table.name)
        live = table.stream_shard if table is not None else None
        if live is not None and live.id == self.stream_shard.id:
            self.stream_shard = live
        result: dict[str, Any] = original(self, limit)
        return result

    setattr(get_from_live_shard, _PATCHED_MARKER, True)
    ShardIterator.get = get_from_live_shard  # type: ignore[method-assign]
