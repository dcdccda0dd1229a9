"""Progress that only moves forward, although several chunks report it concurrently.

`JobService.report_progress` applies whatever percent it is given; two chunks racing
could store 41 after 42. This reporter re-checks under the job's optimistic lock and
skips a percent the job has already passed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from jobgate.domain.changes import RecordProgress, apply_change
from jobgate.domain.errors import IllegalTransition, JobCancelled, JobNotFound, TransientStoreError
from jobgate.store.jobs import JobStore
from jobgate.timeutil import utc_now

MAX_ATTEMPTS = 8


class ForwardProgress:
    def __init__(self, jobs: JobStore, clock: Callable[[], datetime] = utc_now) -> None:
        self._jobs = jobs
        self._clock = clock

    def report(self, job_id: str, message: str, percent: int) -> bool:
        """True if stored; False if the job already shows this percent or more."""
        for _ in range(MAX_ATTEMPTS):
            job = self._jobs.get(job_id)
            if job is None:
                raise JobNotFound(job_id)
            if job.progress.percent >= percent:
                return False
            now = self._clock()
            try:
                applied = apply_change(job, RecordProgress(message=message, percent=percent), now)
            except IllegalTransition as refusal:
                raise JobCancelled(f"job {job_id} is {refusal.current}; progress not recorded") from None
            if self._jobs.save_change(job, applied, now):
                return True
        raise TransientStoreError(f"job {job_id} kept changing; progress not recorded")
