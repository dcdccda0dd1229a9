"""How often a client should poll: `Retry-After` from the job's progress and ETA (docs/api.md)."""

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
# Poll about this many times over the remaining time, so a minute-long job is polled
# every several seconds, not every second.
POLLS_PER_REMAINING_TIME = 4
# Without an ETA, back off with the job's age: a job that has run a minute is asked
# about every 15 s, one that has run an hour every minute.
AGE_FRACTION_WITHOUT_ETA = 4


def retry_after_seconds(job: Job, now: datetime) -> int:
    if job.status is JobStatus.QUEUED:
        return QUEUED_RETRY_AFTER_SECONDS
    if job.progress.eta is not None:
        remaining = (job.progress.eta - now).total_seconds()
        return _clamp(math.ceil(remaining / POLLS_PER_REMAINING_TIME))
    started = job.started_at or job.created_at
    age = (now - started).total_seconds()
    return _clamp(math.ceil(age / AGE_FRACTION_WITHOUT_ETA))


def _clamp(seconds: int) -> int:
    return max(MIN_RETRY_AFTER_SECONDS, min(MAX_RETRY_AFTER_SECONDS, seconds))
