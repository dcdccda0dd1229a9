"""Domain errors. The API maps each to one problem+json response (jobgate_api.problems)."""

from __future__ import annotations

from typing import Any


class JobgateError(Exception):
    """Base of every error jobgate raises on purpose."""


class JobNotFound(JobgateError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"No job {job_id} exists.")
        self.job_id = job_id


class JobExpired(JobgateError):
    def __init__(self, job_id: str, expired_at: str) -> None:
        super().__init__(f"Job {job_id} expired at {expired_at}; its record and result are gone.")
        self.job_id = job_id
        self.expired_at = expired_at


class IllegalTransition(JobgateError):
    """A change the status machine refuses (late task result, move out of a terminal status...)."""

    def __init__(self, job_id: str, current: str, target: str) -> None:
        super().__init__(f"Job {job_id} cannot go from {current} to {target}.")
        self.job_id = job_id
        self.current = current
        self.target = target


class ResultNotReady(JobgateError):
    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"Job {job_id} is {status}; a result exists only once it has succeeded.")
        self.job_id = job_id
        self.status = status


class InvalidJobRequest(JobgateError):
    """The submit body is well-formed JSON but its content is unacceptable (422)."""

    def __init__(self, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.errors = errors


class IdempotencyConflict(JobgateError):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used with a different request body; "
            "use a new key for a different request."
        )
        self.key = key


class DeliveryNotPossible(JobgateError):
    """A redelivery of an event that does not exist (`no-event`) or of a job without callback (`no-callback`)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class JobCancelled(JobgateError):
    """Raised inside a task when its job is being cancelled; state machines catch it by name."""


class TransientStoreError(JobgateError):
    """The store stayed contended after bounded retries, or AWS stayed busy past botocore's retries
    (task_handlers.py); state machines retry it by name."""
