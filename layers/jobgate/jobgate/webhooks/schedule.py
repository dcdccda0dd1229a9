"""When to try a failed webhook again: docs/webhooks.md's schedule, jittered, honouring Retry-After."""

from __future__ import annotations

import random
from collections.abc import Sequence

JITTER = 0.2  # ±20 %
# A receiver's Retry-After may push a retry later than the schedule, but not past a day.
MAX_RETRY_AFTER_SECONDS = 86_400.0


def retry_delay(
    schedule: Sequence[float], failed_round: int, retry_after: float | None, rng: random.Random
) -> float | None:
    """Seconds until the next attempt after round `failed_round` (1 = the first attempt) failed;
    None when the schedule is exhausted and the delivery has failed for good."""
    if failed_round > len(schedule):
        return None
    delay = schedule[failed_round - 1] * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (HTTP-date forms are ignored: receivers of webhooks send seconds)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
