"""Optimistic locking: redo a read-modify-conditional-write until no other writer got in between.

Any store whose writes are conditional on what was read (a version, the previous value) uses
it the same way: the attempt reads, plans the change and writes it on the condition; when the
condition fails it returns CONFLICT and is run again after a jittered pause.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from enum import Enum
from typing import Final

from jobgate.observability import signals


class Conflict(Enum):
    """One member, so that `T | Conflict` types what an attempt returns."""

    CONFLICT = "conflict"


# What an attempt returns when another writer changed the item between its read and its write.
CONFLICT: Final = Conflict.CONFLICT

DEFAULT_ATTEMPTS = 8
DEFAULT_BACKOFF_SECONDS = 0.01


def retry_on_conflict[T](
    attempt: Callable[[], T | Conflict],
    *,
    gave_up: Callable[[int], Exception],
    max_attempts: int = DEFAULT_ATTEMPTS,
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """The first outcome of `attempt` that is not CONFLICT; after `max_attempts` conflicts,
    raises `gave_up(max_attempts)`. Before attempt n (from 0) it sleeps a random time up to
    `backoff_seconds * 2**n`: full jitter spreads writers that keep colliding on one item."""
    for attempt_number in range(max_attempts):
        if attempt_number:
            signals.store_conflict_retried()
            sleep(random.uniform(0, backoff_seconds * 2**attempt_number))
        outcome = attempt()
        if outcome is not CONFLICT:
            return outcome
    raise gave_up(max_attempts)
