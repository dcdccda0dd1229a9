"""JobControl: what a job type's tasks may do to the job they run.

`JobService` provides it; the tasks depend on this protocol instead of the service: it is
all they may do, and a test can hand them a fake. A type's wiring module hands them the
service.
"""

from __future__ import annotations

from typing import Any, Protocol

from jobgate.domain.models import Job, StepStatus


class JobControl(Protocol):
    def peek(self, job_id: str) -> Job | None:
        """The job as stored (no tenant check: the workflow runs it)."""
        ...

    def start_or_resume(self, job_id: str) -> Job:
        """The first task's start: queued -> running; a running job as it is (a task may run
        twice); JobCancelled for any other status."""
        ...

    def complete_or_stop(self, job_id: str, result: Any) -> Job:
        """Store the result and succeed the job, from the workflow's last task; JobCancelled
        if the job no longer runs."""
        ...

    def require_active(self, job_id: str) -> Job:
        """The job, or JobCancelled once it is no longer `running`: call before each unit of work."""
        ...

    def record_step(self, job_id: str, name: str, status: StepStatus, detail: dict[str, Any] | None = None) -> Job:
        """Set a step's status (and detail); JobCancelled if the job no longer runs."""
        ...

    def begin_step(self, job_id: str, name: str) -> bool:
        """Mark a step running unless it already succeeded (then False: its work is done, by a
        twin run or an earlier attempt); JobCancelled if the job no longer runs."""
        ...

    def advance_progress(self, job_id: str, message: str, percent: int) -> bool:
        """Record progress unless the job already shows this percent or more; False if skipped."""
        ...

    def complete(self, job_id: str, result: Any) -> Job | None:
        """Store the result and succeed the job; None if the job no longer runs."""
        ...
