"""Retry-After follows the job's progress: far less than once a second on a minute-long job."""

from __future__ import annotations

from datetime import timedelta

from jobgate.domain.models import Job
from jobgate.domain.polling import retry_after_seconds
from jobgate.domain.status import JobStatus
from tests.unit.test_status_machine import T0, make_job


def running_with_eta(seconds_left: float) -> Job:
    job = make_job(JobStatus.RUNNING)
    job.progress.eta = T0 + timedelta(seconds=seconds_left)
    return job


def test_a_queued_job_is_polled_again_in_two_seconds() -> None:
    assert retry_after_seconds(make_job(JobStatus.QUEUED), T0) == 2


def test_a_minute_left_means_polling_every_fifteen_seconds() -> None:
    assert retry_after_seconds(running_with_eta(60), T0) == 15


def test_never_below_one_second_even_when_the_eta_has_passed() -> None:
    assert retry_after_seconds(running_with_eta(-30), T0) == 1


def test_never_above_a_minute_for_long_jobs() -> None:
    assert retry_after_seconds(running_with_eta(86_400), T0) == 60


def test_without_an_eta_polling_slows_as_the_job_ages() -> None:
    job = make_job(JobStatus.RUNNING)
    early = retry_after_seconds(job, T0 + timedelta(seconds=4))
    later = retry_after_seconds(job, T0 + timedelta(minutes=2))
    assert (early, later) == (1, 30)
