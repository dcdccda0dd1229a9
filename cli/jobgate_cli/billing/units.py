"""How many billable units one call is, by the rules each service's pricing and docs state.

Pure functions of sizes and durations: no AWS here, so each rule is unit-tested against
hand-computed examples (tests/unit/test_billing_units.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

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


S3Tier = Literal["write", "read"]


def s3_request_tier(method: str, path: str) -> S3Tier | None:
    """The price tier of one path-style S3 request (`/bucket` or `/bucket/key`); None: free.

    PUT, COPY (a PUT), POST and LIST (a GET of the bucket) are the dearer tier; GET, HEAD and
    the other requests the cheaper one; DELETE is free.
    """
    method = method.upper()
    if method == "DELETE":
        return None
    if method in ("PUT", "POST"):
        return "write"
    on_bucket = "/" not in path.strip("/")
    return "write" if method == "GET" and on_bucket else "read"


def lambda_platform_log_bytes(request_id: str, duration_ms: float, memory_mb: int, cold_start: bool) -> int:
    """Bytes of the START, END and REPORT lines Lambda writes to the function's log per invocation.

    Not known locally, and taken as the same length: Max Memory Used (three digits) and a cold
    start's Init Duration (that of the whole invocation).
    """
    init = f"Init Duration: {duration_ms:.2f} ms\t" if cold_start else ""
    lines = (
        f"START RequestId: {request_id} Version: $LATEST\n"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {math.ceil(duration_ms)} ms"
        f"\tMemory Size: {memory_mb} MB\tMax Memory Used: 100 MB\t{init}\n"
    )
    return len(lines.encode())


# ------------------------------------------------------------------ DynamoDB

# DynamoDB Local computes capacity as DynamoDB does (item sizes, 1 KB / 4 KB units, 0.5 for
# eventually consistent reads, index writes) and returns it when asked with
# ReturnConsumedCapacity: the meter takes its figures instead of sizing items itself. Except for
# a transaction's table units: DynamoDB Local answers 2 for a transaction of several small
# items, where DynamoDB bills 2 per started KB of each item (transaction_capacity).
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


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB bills it: each attribute's name and value, in bytes."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":
        return _number_size(str(content))
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(member).encode()) for member in content)
    if kind == "NS":
        return sum(_number_size(str(member)) for member in content)
    if kind == "BS":
        return sum(len(member) for member in content)
    # M and L: 3 bytes of overhead, plus each element (and, in a map, its name).
    if kind == "M":
        return 3 + sum(len(name.encode()) + _value_size(member) for name, member in content.items())
    return 3 + sum(1 + _value_size(member) for member in content)


def _number_size(number: str) -> int:
    """About 1 byte per 2 significant digits, plus 1."""
    digits = number.lstrip("-").replace(".", "").lstrip("0") or "0"
    return len(digits) // 2 + 1 + (1 if number.startswith("-") else 0)


def transaction_capacity(
    transact_items: Sequence[Mapping[str, Any]], consumed: Sequence[Mapping[str, Any]] | None
) -> dict[str, float]:
    """A TransactWriteItems' units by table: 2 per started KB of each item, plus its index writes.

    A Put's size is in the request; an Update, Delete or ConditionCheck is taken as at least one
    KB (its stored size is not). Where DynamoDB Local reports more, its figure stands.
    """
    reported = dynamodb_capacity("TransactWriteItems", consumed)
    computed: dict[str, float] = {}
    for action in transact_items:
        ((kind, body),) = action.items()
        size = item_size(body["Item"]) if kind == "Put" else 1
        computed[body["TableName"]] = computed.get(body["TableName"], 0.0) + 2 * math.ceil(size / 1024)
    for entry in consumed or []:
        table = entry["TableName"]
        indexes = sum(float(index["CapacityUnits"]) for index in entry.get("GlobalSecondaryIndexes", {}).values())
        computed[table] = computed.get(table, 0.0) + indexes
    return {table: max(units, reported.get(table, 0.0)) for table, units in computed.items()}
