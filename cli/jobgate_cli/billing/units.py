"""How many billable units one call is, by the rules each service's pricing and docs state.

Pure functions of sizes and durations: no AWS here, so each rule is unit-tested against
hand-computed examples (tests/unit/test_billing_units.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

KIB: Final = 1024
API_REQUEST_BYTES: Final = 512 * KIB  # an HTTP API request is metered per 512 KB
SQS_CHUNK_BYTES: Final = 64 * KIB  # each 64 KB chunk of a request's payload is one request
EXPRESS_MEMORY_STEP_MB: Final = 64  # Express bills memory in 64 MB steps ...
EXPRESS_DURATION_STEP_MS: Final = 100  # ... and duration in 100 ms steps


def api_requests(request_bytes: int, response_bytes: int) -> int:
    """HTTP API requests billed for one call: one per started 512 KB of request and response."""
    return max(1, math.ceil((request_bytes + response_bytes) / API_REQUEST_BYTES))


def lambda_gb_seconds(memory_mb: int, duration_ms: float) -> float:
    """Configured memory x duration rounded up to the next millisecond."""
    return memory_mb / 1024 * math.ceil(duration_ms) / 1000


def express_gb_seconds(memory_used_mb: float, duration_ms: float) -> float:
    """Express workflows: memory rounded up to 64 MB steps, duration up to 100 ms steps."""
    memory = math.ceil(max(memory_used_mb, 1) / EXPRESS_MEMORY_STEP_MB) * EXPRESS_MEMORY_STEP_MB
    duration = math.ceil(max(duration_ms, 1) / EXPRESS_DURATION_STEP_MS) * EXPRESS_DURATION_STEP_MS
    return memory / 1024 * duration / 1000


def sqs_requests(payload_bytes: int) -> int:
    """One SQS request (a batch included) is one request per started 64 KB of its payload."""
    return max(1, math.ceil(payload_bytes / SQS_CHUNK_BYTES))


# ------------------------------------------------------------------ DynamoDB

# DynamoDB Local computes capacity as DynamoDB does (item sizes, 1 KB / 4 KB units, x2 in
# transactions, 0.5 for eventually consistent reads, index writes) and returns it when asked
# with ReturnConsumedCapacity: the meter takes its figures instead of sizing items itself.
WRITE_OPERATIONS: Final = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "ExecuteTransaction"}
)
READ_OPERATIONS: Final = frozenset(
    {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems", "ExecuteStatement", "BatchExecuteStatement"}
)


def dynamodb_capacity(
    operation: str, consumed: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
) -> dict[str, float]:
    """Capacity units by table of one response's ConsumedCapacity (one entry, or one per table)."""
    if operation not in WRITE_OPERATIONS | READ_OPERATIONS or not consumed:
        return {}
    entries = [consumed] if isinstance(consumed, Mapping) else consumed
    by_table: dict[str, float] = {}
    for entry in entries:
        by_table[entry["TableName"]] = by_table.get(entry["TableName"], 0.0) + float(entry.get("CapacityUnits", 0))
    return by_table


def is_write(operation: str) -> bool:
    return operation in WRITE_OPERATIONS
