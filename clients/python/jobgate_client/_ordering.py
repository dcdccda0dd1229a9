"""Per-job sequence ordering for the webhook receiver: which events to hand over now, which to hold.

Pure bookkeeping (no I/O, no threads, no clock of its own): `jobgate_client.webhooks` calls it
under its lock and does the handing over.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol


class Sequenced(Protocol):
    @property
    def job_id(self) -> str: ...

    @property
    def sequence(self) -> int: ...


class Arrival(Enum):
    READY = "ready"  # next in sequence (or gaps are expected): hand it over now
    HELD = "held"  # an earlier sequence is missing: kept until it arrives or the gap is given up
    LATE = "late"  # its sequence was passed already: handing it over would go back in time


@dataclass
class _Job[E: Sequenced]:
    job_id: str
    handed: int = 0  # the highest sequence handed over (sequences start at 1)
    held: dict[int, tuple[E, float]] = field(default_factory=dict)  # sequence -> (event, held since)

    def oldest_held_since(self) -> float | None:
        return min((since for _, since in self.held.values()), default=None)


class SequenceOrdering[E: Sequenced]:
    """Hands each job's events over in sequence order, holding out-of-order ones within bounds.

    A held event waits at most `gap_timeout` seconds for the sequences before it; a job holds at
    most `max_held_per_job` events and all jobs together `max_held`; at most `max_jobs` jobs are
    remembered (the least recently seen is forgotten first). Past any bound the gap is given up:
    the held events are handed over in order and a missing one that turns up later is late.
    """

    def __init__(self, *, gap_timeout: float, max_held_per_job: int, max_held: int, max_jobs: int) -> None:
        self.gap_timeout = gap_timeout
        self.max_held_per_job = max_held_per_job
        self.max_held = max_held
        self.max_jobs = max_jobs
        self._jobs: OrderedDict[str, _Job[E]] = OrderedDict()
        self._waiting: dict[str, _Job[E]] = {}  # the jobs holding events: the only ones a bound can concern
        self._held_count = 0

    @property
    def held_count(self) -> int:
        return self._held_count

    def arrive(self, event: E, now: float, *, expect_every_sequence: bool) -> Arrival:
        """Classify a new (not duplicate) event; a HELD one is kept here, a READY one is not."""
        job = self._job(event.job_id)
        if event.sequence <= job.handed:
            return Arrival.LATE
        if not expect_every_sequence or event.sequence == job.handed + 1:
            return Arrival.READY
        job.held[event.sequence] = (event, now)
        self._waiting[job.job_id] = job
        self._held_count += 1
        return Arrival.HELD

    def handed(self, event: E) -> list[E]:
        """`event` was handed over: what its job's held events now are in turn (in order, removed)."""
        job = self._job(event.job_id)
        job.handed = max(job.handed, event.sequence)
        return self._take_contiguous(job)

    def given_up(self, now: float) -> list[E]:
        """Events whose gap is given up because a bound was passed (a timeout, a full buffer, too
        many jobs), in hand-over order; they count as handed over."""
        released: list[E] = []
        for job in list(self._waiting.values()):
            while (since := job.oldest_held_since()) is not None and now - since >= self.gap_timeout:
                released += self._skip_gap(job)
            while len(job.held) > self.max_held_per_job:
                released += self._skip_gap(job)
        while self._held_count > self.max_held:
            longest = min(self._waiting.values(), key=lambda job: job.oldest_held_since() or now)
            released += self._skip_gap(longest)
        while len(self._jobs) > self.max_jobs:
            _, forgotten = self._jobs.popitem(last=False)  # its later events count as first ones
            while forgotten.held:
                released += self._skip_gap(forgotten)
        return released

    def release(self, job_id: str | None = None) -> list[E]:
        """Give up every gap of one job (or of all): its held events, in order."""
        if job_id is None:
            jobs = list(self._waiting.values())
        else:
            jobs = [self._waiting[job_id]] if job_id in self._waiting else []
        released: list[E] = []
        for job in jobs:
            while job.held:
                released += self._skip_gap(job)
        return released

    def next_deadline(self) -> float | None:
        """When the oldest held event's wait runs out (on the caller's clock), if any is held."""
        oldest = min((s for job in self._waiting.values() if (s := job.oldest_held_since()) is not None), default=None)
        return None if oldest is None else oldest + self.gap_timeout

    def _job(self, job_id: str) -> _Job[E]:
        job = self._jobs.get(job_id)
        if job is None:
            job = self._jobs[job_id] = _Job(job_id)
        self._jobs.move_to_end(job_id)
        return job

    def _skip_gap(self, job: _Job[E]) -> list[E]:
        job.handed = min(job.held) - 1
        return self._take_contiguous(job)

    def _take_contiguous(self, job: _Job[E]) -> list[E]:
        taken: list[E] = []
        while (entry := job.held.pop(job.handed + 1, None)) is not None:
            taken.append(entry[0])
            job.handed += 1
            self._held_count -= 1
        if not job.held:
            self._waiting.pop(job.job_id, None)
        return taken
