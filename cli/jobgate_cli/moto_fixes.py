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
