"""How `jobgate jobs submit --wait` and `watch` show a job: a live bar on a terminal, else plain lines."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.text import Text

from jobgate_client import Job


class JobDisplay(Protocol):
    def show(self, job: Job) -> None: ...

    def close(self) -> None: ...


def eta_text(eta: datetime | None, now: datetime) -> str:
    """The API's estimate of when the job ends, as time left: `eta 12s`; empty when there is none."""
    if eta is None:
        return ""
    left = max(0, round((eta - now).total_seconds()))
    return f"eta {left // 60}m{left % 60:02d}s" if left >= 60 else f"eta {left}s"


def job_eta(job: Job) -> datetime | None:
    return None if job.is_terminal else job.progress.eta


def status_text(job: Job) -> str:
    """`running step-2` (status, then the step in progress, or the job's own message without one)."""
    if job.is_terminal:
        return job.status
    message = job.progress.message
    # A queued job's message just says so again ("Queued."): show it only when it adds something.
    detail = job.progress.current_step or ("" if message.rstrip(".").lower() == job.status else message)
    return f"{job.status} {detail}".strip()


class PlainLines:
    """One line per visible change (status, percent, step), for logs and pipes."""

    def __init__(self, out: TextIO, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._out = out
        self._now = now
        self._last: tuple[str, int, str | None] | None = None

    def show(self, job: Job) -> None:
        seen = (job.status, job.progress.percent, job.progress.current_step)
        if seen == self._last:
            return
        self._last = seen
        parts = [job.id, f"{job.progress.percent:3d}%", status_text(job), eta_text(job_eta(job), self._now())]
        print("  ".join(part for part in parts if part), file=self._out, flush=True)

    def close(self) -> None:
        pass


class LiveBar:
    """A rich progress bar: percent, status and current step, the API's ETA."""

    def __init__(self, console: Console, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._progress = Progress(
            TextColumn("{task.fields[job]}"),
            # Named colours, not the default theme's RGB, so 16-colour terminals show them apart too.
            BarColumn(complete_style="yellow", finished_style="green"),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.description}"),
            _EtaColumn(now),
            console=console,
        )
        self._task: TaskID | None = None

    def show(self, job: Job) -> None:
        description, percent, eta = status_text(job), job.progress.percent, job_eta(job)
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(description, total=100, completed=percent, job=job.id, eta=eta)
        else:
            self._progress.update(self._task, description=description, completed=percent, eta=eta)

    def close(self) -> None:
        self._progress.stop()


class _EtaColumn(ProgressColumn):
    """The time left to the API's ETA, counted down at each refresh between two answers."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        super().__init__()
        self._now = now

    def render(self, task: Task) -> Text:
        return Text(eta_text(task.fields.get("eta"), self._now()))


def job_display(out: TextIO | None = None) -> JobDisplay:
    """The live bar when `out` (stdout) is a terminal, else plain lines."""
    stream = out or sys.stdout
    console = Console(file=stream)
    return LiveBar(console) if console.is_terminal else PlainLines(stream)
