"""How many billable units one call is, by the rules each service's pricing and docs state.

Pure functions of sizes and durations: no AWS here, so each rule is unit-tested against
hand-computed examples (tests/unit/test_billing_units.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

KIB: Final = 1024
API_REQUEST_BYTES: Final = 512 * KIB  # an HTTP API request is metered per 512 KB
SQS_CHUNK_BYTES: Final = 64 * KIB  # each 64 KB chunk of a request's payload is one request
WRITE_UNIT_BYTES: Final = KIB  # 1 WRU writes up to 1 KB
READ_UNIT_BYTES: Final = 4 * KIB  # 1 RRU reads up to 4 KB, strongly consistent
EXPRESS_MEMORY_STEP_MB: Final = 64  # Express bills memory in 64 MB steps ...
EXPRESS_DURATION_STEP_MS: Final = 100  # ... and duration in 100 ms steps
# Item size rules (DynamoDB developer guide, "Item sizes and formats").
DOCUMENT_OVERHEAD_BYTES: Final = 3  # a List or a Map, empty or not
ELEMENT_OVERHEAD_BYTES: Final = 1  # each element of a List or a Map


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


def item_size(item: Mapping[str, Any]) -> int:
    """Bytes of an item in the low-level format ({"name": {"S": "..."}}): names plus values."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def attribute_size(value: Mapping[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":
        return number_size(str(content))
    if kind == "B":
        return len(content if isinstance(content, bytes) else str(content).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in content)
    if kind == "NS":
        return sum(number_size(str(n)) for n in content)
    if kind == "BS":
        return sum(len(b) for b in content)
    if kind == "L":
        return DOCUMENT_OVERHEAD_BYTES + sum(ELEMENT_OVERHEAD_BYTES + attribute_size(v) for v in content)
    if kind == "M":
        return DOCUMENT_OVERHEAD_BYTES + sum(
            ELEMENT_OVERHEAD_BYTES + len(k.encode()) + attribute_size(v) for k, v in content.items()
        )
    raise ValueError(f"not a DynamoDB attribute value: {value!r}")


def number_size(text: str) -> int:
    """About one byte per two significant digits, plus one (plus one more when negative)."""
    number = Decimal(text)
    digits = number.normalize().as_tuple().digits if number else (0,)
    significant = len("".join(map(str, digits)).strip("0")) or 1
    return math.ceil(significant / 2) + 1 + (1 if number < 0 else 0)


def write_units(item_bytes: int, *, transactional: bool = False) -> float:
    """WRUs of one item written (put, update: the larger image, delete: the item deleted)."""
    units = max(1, math.ceil(item_bytes / WRITE_UNIT_BYTES))
    return float(units * (2 if transactional else 1))


def read_units(item_bytes: int, *, consistent: bool, transactional: bool = False) -> float:
    """RRUs of one item read (or of the summed sizes a Query or Scan page read)."""
    units = float(max(1, math.ceil(item_bytes / READ_UNIT_BYTES)))
    if transactional:
        return units * 2
    return units if consistent else units / 2


def index_write_units(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, index_keys: Iterable[str]
) -> float:
    """WRUs a write costs in one global secondary index projecting ALL attributes.

    An item enters the index when it has every key attribute. Same keys before and after: one
    write of the larger image; keys changed: a delete of the old entry plus a put of the new.
    """
    keys = tuple(index_keys)
    old = before if before is not None and all(k in before for k in keys) else None
    new = after if after is not None and all(k in after for k in keys) else None
    if old is not None and new is not None:
        if all(old[k] == new[k] for k in keys):
            return write_units(max(item_size(old), item_size(new)))
        return write_units(item_size(old)) + write_units(item_size(new))
    entry = old if old is not None else new
    return write_units(item_size(entry)) if entry is not None else 0.0
