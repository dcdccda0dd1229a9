"""What the client raises: the API's problem+json answers, connection failures and job outcomes."""

from __future__ import annotations

from typing import Any

from jobgate_client.models import Job, JobError

PROBLEM_TYPE_BASE = "urn:jobgate:problem:"
# The `error.type`s of a job that ran past a time limit: its workflow's (the execution
# reconciler, the sweeper), or a task's or a wait's inside it (Step Functions' own names).
TIMED_OUT_ERROR_TYPES = frozenset({"execution-timed-out", "States.Timeout", "Sandbox.Timedout"})


class JobgateError(Exception):
    """Everything this client raises."""


class ConnectionFailed(JobgateError):
    """The API (or the object store a URL points to) could not be reached, or did not answer in time."""

    def __init__(self, method: str, url: str, cause: Exception) -> None:
        super().__init__(f"{method} {url} failed: {type(cause).__name__}: {cause}")
        self.method = method
        self.url = url
        self.cause = cause


class ApiError(JobgateError):
    """An error answer, from its problem+json body (RFC 9457); `problem` is the whole body."""

    def __init__(self, status: int, problem: dict[str, Any], retry_after: float | None = None) -> None:
        self.status = status
        self.problem = problem
        self.type: str = str(problem.get("type", "about:blank"))
        self.title: str = str(problem.get("title", ""))
        self.detail: str = str(problem.get("detail", ""))
        # 400 and 422: [{"pointer": "#/input/steps", "detail": "..."}]
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])
        self.retry_after = retry_after
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"{self.status} {self.title}".strip()
        if self.detail:
            text += f": {self.detail}"
        for error in self.errors:
            text += f"\n  {error.get('pointer', '')}: {error.get('detail', '')}"
        return text


class BadRequest(ApiError):
    """400: a malformed header, query parameter or body encoding."""


class Unauthorized(ApiError):
    """401: no API key, or one the API does not know."""


class NotFound(ApiError):
    """404: no such job (or another tenant's), event or route."""


class Conflict(ApiError):
    """409: the request does not fit the job's state."""


class ResultNotReady(Conflict):
    """409 `result-not-ready`: the job has not succeeded (yet); `job_status` says where it is."""

    @property
    def job_status(self) -> str | None:
        status = self.problem.get("jobStatus")
        return str(status) if status is not None else None


class IdempotencyKeyReused(Conflict):
    """409 `idempotency-key-reused`: the same Idempotency-Key came with a different body."""


class Gone(ApiError):
    """410: the job is past its `expiresAt` (or a check no longer waits for an answer)."""


class PayloadTooLarge(ApiError):
    """413: a body over 256 KiB; upload it (`Client.upload`) and name the upload in the input."""


class UnsupportedMediaType(ApiError):
    """415: a body that is not JSON."""


class InvalidInput(ApiError):
    """422: unknown job type, input invalid for the type, a bad callback or retention; see `errors`."""


class TooManyRequests(ApiError):
    """429: over the tenant's limit, still after the client's retries."""


class ServiceUnavailable(ApiError):
    """503: AWS throttled or timed out, still after the client's retries; nothing was half-done."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    410: Gone,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: InvalidInput,
    429: TooManyRequests,
    503: ServiceUnavailable,
}
_BY_TYPE: dict[str, type[ApiError]] = {
    PROBLEM_TYPE_BASE + "result-not-ready": ResultNotReady,
    PROBLEM_TYPE_BASE + "idempotency-key-reused": IdempotencyKeyReused,
}


def api_error(status: int, problem: dict[str, Any], retry_after: float | None = None) -> ApiError:
    """The most specific exception class for an error answer."""
    kind = _BY_TYPE.get(str(problem.get("type")), _BY_STATUS.get(status, ApiError))
    return kind(status, problem, retry_after)


class JobUnsuccessful(JobgateError):
    """`wait` saw the job end other than `succeeded`; `job` is how it ended, `error` why (if known)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.error: JobError | None = job.error
        reason = f": {job.error.title} {job.error.detail}" if job.error else ""
        super().__init__(f"job {job.id} ended {job.status}{reason}")


class JobFailed(JobUnsuccessful):
    """The job ended `failed`."""


class JobTimedOut(JobFailed):
    """The job ended `failed` because it ran past a time limit (`error.type` in TIMED_OUT_ERROR_TYPES)."""


class JobCancelled(JobUnsuccessful):
    """The job ended `cancelled`."""


def unsuccessful(job: Job) -> JobUnsuccessful:
    """The exception for a job that ended `failed` or `cancelled`."""
    if job.status == "cancelled":
        return JobCancelled(job)
    if job.error is not None and job.error.type in TIMED_OUT_ERROR_TYPES:
        return JobTimedOut(job)
    return JobFailed(job)


class WaitTimeout(JobgateError):
    """`wait`'s own timeout passed before the job ended; `job` is the last state seen (it runs on)."""

    def __init__(self, job: Job, timeout: float) -> None:
        super().__init__(f"job {job.id} is still {job.status} after {timeout:g} s")
        self.job = job
        self.timeout = timeout
