"""Time in one place: UTC now and RFC 3339 formatting with a `Z` suffix."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_rfc3339(moment: datetime) -> str:
    """Millisecond precision, always UTC, always `Z` (RFC 3339, as every time the API shows)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_epoch_seconds(moment: datetime) -> int:
    """Rounded up: a TTL must never fall before the moment it stands for."""
    return math.ceil(moment.timestamp())
