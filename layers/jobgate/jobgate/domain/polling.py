"""How often a client should poll: `Retry-After` from the job's progress (docs/api.md)."""

from __future__ import annotations

import math
from datetime import datetime

from jobgate.domain.models import Job
from jobgate.domain.status import JobStatus

MIN_RETRY_AFTER_SECONDS = 1
MAX_RETRY_AFTER_SECONDS = 60
QUEUED_RETRY_AFTER_SECONDS = 2
# A 503 (AWS throttled or timed out): long enough for botocore's own backoff to have
# been outgrown, short enough that a burst is over by then.
BACKPRESSURE_RETRY_AFTER_SECONDS = 5
# Come back after this share of the time the job is expected to need still: the estimate
# is rough, so a client closes in on the end in a few halvings rather than overshooting it.
SHARE_OF_REMAINING_TIME = 0.5
# Without progress to go by, back off with the job's age: a job that has run a minute is
# asked about every 15 s, one that has run an hour every minute.
AGE_FRACTION_WITHOUT_PROGRESS = 4


def retry_after_seconds(job: Job, now: datetime) -> int:
    """The remaining time is extrapolated from the percent done *now*, not at the job's last
    change: a job that has gone quiet since (a wait between steps, a long step) is asked about
    less and less often, instead of every second once an estimate made at its last change has
    passed. With `Prefer: wait` the client still hears of a change as it happens."""
    if job.status is JobStatus.QUEUED:
        return QUEUED_RETRY_AFTER_SECONDS
    started = job.started_at or job.created_at
    age = max(0.0, (now - started).total_seconds())
    percent = job.progress.percent
    if 0 < percent < 100:
        remaining = age * (100 - percent) / percent
        return _clamp(math.ceil(remaining * SHARE_OF_REMAINING_TIME))
    return _clamp(math.ceil(age / AGE_FRACTION_WITHOUT_PROGRESS))


def _clamp(seconds: int) -> int:
    return max(MIN_RETRY_AFTER_SECONDS, min(MAX_RETRY_AFTER_SECONDS, seconds))
