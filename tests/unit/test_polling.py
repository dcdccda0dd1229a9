"""Retry-After follows the job's progress: a handful of requests, not one a second, on a minute-long job."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from jobgate.domain.changes import JobChange, RecordProgress, RecordStep, StartJob, SucceedJob, apply_change
from jobgate.domain.models import Job, StepStatus
from jobgate.domain.polling import retry_after_seconds
from jobgate.domain.status import JobStatus
from tests.unit.test_status_machine import T0, make_job

LONG_POLL_SECONDS = 20  # what a client asks with Prefer: wait=20 (the most the API holds)


def running(percent: int, started_seconds_ago: float) -> tuple[Job, datetime]:
    job = make_job(JobStatus.RUNNING)
    job.progress.percent = percent
    return job, T0 + timedelta(seconds=started_seconds_ago)


def test_a_queued_job_is_polled_again_in_two_seconds() -> None:
    assert retry_after_seconds(make_job(JobStatus.QUEUED), T0) == 2


def test_half_of_the_remaining_time_extrapolated_from_the_percent_done() -> None:
    # A quarter done after 20 s: 60 s to go, so come back in 30.
    assert retry_after_seconds(*running(25, 20)) == 30


def test_a_job_gone_quiet_since_its_last_change_is_asked_about_less_and_less_often() -> None:
    job, _ = running(50, 0)
    assert [retry_after_seconds(job, T0 + timedelta(seconds=s)) for s in (2, 10, 40)] == [1, 5, 20]


def test_never_above_a_minute_for_long_jobs() -> None:
    assert retry_after_seconds(*running(1, 3_600)) == 60


def test_without_progress_polling_slows_as_the_job_ages() -> None:
    job = make_job(JobStatus.RUNNING)
    early = retry_after_seconds(job, T0 + timedelta(seconds=4))
    later = retry_after_seconds(job, T0 + timedelta(minutes=2))
    assert (early, later) == (1, 30)


def demo_timeline(steps: int, step_seconds: int) -> list[tuple[datetime, Job]]:
    """The demo job's versions with their times: each step runs at once, then waits."""
    job, moment, timeline = make_job(steps=steps), T0, []

    def change(what: JobChange, after: float = 0.02) -> None:
        nonlocal job, moment
        moment += timedelta(seconds=after)
        job = apply_change(job, what, moment).job
        timeline.append((moment, job))

    change(StartJob(), after=0.5)
    for index in range(steps):
        change(RecordStep(f"step-{index + 1}", StepStatus.RUNNING), after=step_seconds if index else 0.02)
        change(RecordStep(f"step-{index + 1}", StepStatus.SUCCEEDED))
    change(SucceedJob())
    return timeline


def requests_of_a_polite_client(timeline: list[tuple[datetime, Job]], *, long_poll: bool) -> int:
    """Submit, then: wait Retry-After, GET with If-None-Match (and Prefer: wait=20, held until
    the job's version differs from the one the client has, as the API does). Counts requests."""

    def job_at(moment: datetime) -> Job:
        return next((job for at, job in reversed(timeline) if at <= moment), make_job())

    moment, requests, seen = T0, 1, make_job()
    while True:
        moment += timedelta(seconds=retry_after_seconds(job_at(moment), moment) if requests > 1 else 2)
        requests += 1
        if long_poll and job_at(moment).version == seen.version:
            changes = [at for at, job in timeline if at > moment]
            moment = min(changes[0], moment + timedelta(seconds=LONG_POLL_SECONDS)) if changes else moment
        seen = job_at(moment)
        if seen.status.is_terminal:
            return requests


@pytest.mark.parametrize(("steps", "step_seconds"), [(3, 30), (4, 20), (7, 10), (2, 60)])
def test_a_client_that_long_polls_makes_at_most_six_requests_on_a_60_s_job(steps: int, step_seconds: int) -> None:
    timeline = demo_timeline(steps, step_seconds)
    assert timeline[-1][0] - T0 >= timedelta(seconds=60)
    # Before: 6 to 10, because an ETA made right after a quick step had passed at once.
    assert requests_of_a_polite_client(timeline, long_poll=True) <= 6


@pytest.mark.parametrize(("steps", "step_seconds"), [(3, 30), (4, 20), (7, 10), (2, 60)])
def test_a_client_that_only_honours_retry_after_polls_far_less_than_once_a_second(
    steps: int, step_seconds: int
) -> None:
    # Before: 26 to 61 requests, one a second once that ETA had passed.
    assert requests_of_a_polite_client(demo_timeline(steps, step_seconds), long_poll=False) <= 10


def test_progress_reported_inside_a_step_counts_as_much_as_a_finished_step() -> None:
    job = apply_change(make_job(JobStatus.RUNNING), RecordProgress("half way", percent=50), T0).job
    assert retry_after_seconds(job, T0 + timedelta(seconds=30)) == 15
