"""Which events a callback receives (docs/webhooks.md: `events`; by default all but job.progress)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobgate.domain.models import EventType

DEFAULT_EVENT_TYPES = frozenset(t.value for t in EventType if t is not EventType.PROGRESS)


def wants(callback: Mapping[str, Any] | None, event_type: str) -> bool:
    if not callback or not callback.get("url"):
        return False
    chosen = callback.get("events")
    return event_type in (DEFAULT_EVENT_TYPES if chosen is None else set(chosen))
