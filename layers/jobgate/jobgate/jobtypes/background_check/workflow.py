"""The background-check workflow's tasks: start a vendor check, record its answer, sum up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field

from jobgate.domain.models import StepStatus
from jobgate.jobtypes.background_check.models import PENDING, Candidate, Finding, Vendor, VendorAnswer, overall_verdict
from jobgate.jobtypes.background_check.store import VendorCallbackStore
from jobgate.jobtypes.control import JobControl
from jobgate.lazy import LazyModel

if TYPE_CHECKING:
    from jobgate.jobtypes.background_check.vendors import VendorApi

CALLBACK_ROUTE = "/vendor-callbacks"


class _Request(LazyModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    job_id: str = Field(alias="jobId")


class StartVendorCheckRequest(_Request):
    vendor: Vendor
    candidate: Candidate
    timeout_seconds: int = Field(alias="timeoutSeconds", ge=1)
    task_token: str = Field(alias="taskToken", min_length=1)


class RecordFindingRequest(_Request):
    vendor: Vendor
    answer: VendorAnswer


class RecordNoAnswerRequest(_Request):
    vendor: Vendor
    timeout_seconds: int = Field(alias="timeoutSeconds")
    # The Catch's {Error, Cause}.
    error: dict[str, Any] = Field(default_factory=dict)


class SummarizeRequest(_Request):
    findings: list[dict[str, Any]]


def callback_url(api_base_url: str, callback_id: str) -> str:
    return f"{api_base_url.rstrip('/')}{CALLBACK_ROUTE}/{callback_id}"


class VendorRequests:
    """start-vendor-check: a `.waitForTaskToken` task that asks one vendor and returns at once."""

    def __init__(self, jobs: JobControl, callbacks: VendorCallbackStore, vendors: VendorApi, api_base_url: str) -> None:
        self._jobs = jobs
        self._callbacks = callbacks
        self._vendors = vendors
        self._api_base_url = api_base_url

    def start(self, request: StartVendorCheckRequest) -> dict[str, Any]:
        """Mark the vendor's step running, keep the task token under a callback id, ask the vendor."""
        self._jobs.require_active(request.job_id)
        self._jobs.record_step(request.job_id, request.vendor.value, StepStatus.RUNNING, {"finding": PENDING})
        callback_id = self._callbacks.register(
            request.job_id, request.vendor, request.task_token, request.timeout_seconds
        )
        check_id = self._vendors.request_check(
            request.vendor,
            request.candidate,
            callback_url(self._api_base_url, callback_id),
            reference=f"{request.job_id}/{request.vendor.value}",
        )
        return {"callbackId": callback_id, "vendorCheckId": check_id}


class UnknownAction(ValueError):
    pass


class Bookkeeping:
    """record-finding, record-no-answer and summarize: the steps after a vendor answered or not."""

    def __init__(self, jobs: JobControl) -> None:
        self._jobs = jobs

    def run(self, event: dict[str, Any]) -> dict[str, Any]:
        action = event.get("action")
        match action:
            case "record-finding":
                return self.record_finding(RecordFindingRequest.model_validate(event))
            case "record-no-answer":
                return self.record_no_answer(RecordNoAnswerRequest.model_validate(event))
            case "summarize":
                request = SummarizeRequest.model_validate(event)
                result = summarize(request)
                # The workflow's last task: it succeeds the job (JobCancelled if cancelled first).
                self._jobs.complete_or_stop(request.job_id, result)
                return result
        raise UnknownAction(f"unknown action {action!r}")

    def record_finding(self, request: RecordFindingRequest) -> dict[str, Any]:
        """The vendor answered: its step succeeded, with the finding as detail (a job.step event)."""
        self._jobs.require_active(request.job_id)
        detail: dict[str, Any] = {"finding": request.answer.finding.value}
        if request.answer.reference:
            detail["reference"] = request.answer.reference
        self._jobs.record_step(request.job_id, request.vendor.value, StepStatus.SUCCEEDED, detail)
        return {"vendor": request.vendor.value, "finding": request.answer.finding.value}

    def record_no_answer(self, request: RecordNoAnswerRequest) -> dict[str, Any]:
        """No answer in time (or no vendor to ask): the step is skipped and its finding inconclusive."""
        self._jobs.require_active(request.job_id)
        if request.error.get("Error") == "States.Timeout":
            reason = f"vendor did not answer within {request.timeout_seconds} s"
        else:
            reason = f"vendor could not be reached ({request.error.get('Error', 'unknown error')})"
        detail = {"finding": Finding.INCONCLUSIVE.value, "reason": reason}
        self._jobs.record_step(request.job_id, request.vendor.value, StepStatus.SKIPPED, detail)
        return {"vendor": request.vendor.value, "finding": Finding.INCONCLUSIVE.value}


def summarize(request: SummarizeRequest) -> dict[str, Any]:
    """The job's result: every vendor's finding and the overall verdict."""
    findings = {Vendor(item["vendor"]): Finding(item["finding"]) for item in request.findings}
    return overall_verdict(findings).model_dump(mode="json")
