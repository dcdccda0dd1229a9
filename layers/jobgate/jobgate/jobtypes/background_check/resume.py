"""A vendor's signed callback resumes the waiting workflow (the API's POST /vendor-callbacks/{id})."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pydantic import ValidationError

from jobgate.domain.status import JobStatus
from jobgate.jobtypes.background_check import signing
from jobgate.jobtypes.background_check.models import VendorAnswer
from jobgate.jobtypes.background_check.store import CallbackAlreadyAnswered, VendorCallbackStore

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.client import SFNClient

# SendTaskSuccess refuses a token whose task is over (timed out, execution stopped or ended).
NO_LONGER_WAITING_ERRORS = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class ResumeOutcome(StrEnum):
    RESUMED = "resumed"
    DUPLICATE = "duplicate"


class BadSignature(Exception):
    """The X-Vendor-Signature header is missing, malformed, stale or wrong."""


class InvalidVendorAnswer(ValueError):
    def __init__(self, detail: str, errors: list[dict[str, str]]) -> None:
        super().__init__(detail)
        self.errors = errors


class CheckNoLongerWaiting(Exception):
    """The check timed out or its job was cancelled: the answer came too late to count."""


class ResumeUnavailable(Exception):
    """Step Functions could not be told now; the callback is open again for the vendor's retry."""


@dataclass(frozen=True)
class CallbackResumer:
    """Resumes a waiting check with its vendor's answer; wiring.py binds the deployment's
    callback store, Step Functions client, vendor secret and how to read a job's status."""

    callbacks: VendorCallbackStore
    step_functions: SFNClient
    secret: str
    job_status: Callable[[str], JobStatus | None]

    def resume(self, callback_id: str, body: bytes, signature: str | None) -> ResumeOutcome:
        if not signing.verify(self.secret, callback_id, body, signature):
            raise BadSignature(callback_id)
        answer = _parse(body)
        try:
            waiting = self.callbacks.claim(callback_id)
        except CallbackAlreadyAnswered:
            return ResumeOutcome.DUPLICATE
        if answer.vendor is not waiting.vendor:
            self.callbacks.release(waiting)
            detail = f"This callback is for the {waiting.vendor.value} vendor, not {answer.vendor.value}."
            raise InvalidVendorAnswer(detail, [{"pointer": "#/vendor", "detail": detail}])
        # A cancelled job's execution may still wait for the token (it stops when the task
        # times out): the job's status, not Step Functions, says whether the check still counts.
        if self.job_status(waiting.job_id) is not JobStatus.RUNNING:
            raise CheckNoLongerWaiting(callback_id)
        try:
            self.step_functions.send_task_success(taskToken=waiting.task_token, output=answer.model_dump_json())
        except ClientError as error:
            if error.response["Error"]["Code"] in NO_LONGER_WAITING_ERRORS:
                raise CheckNoLongerWaiting(callback_id) from None
            self.callbacks.release(waiting)
            raise ResumeUnavailable(callback_id) from error
        return ResumeOutcome.RESUMED


def _parse(body: bytes) -> VendorAnswer:
    try:
        return VendorAnswer.model_validate(json.loads(body))
    except ValueError as error:
        errors = (
            [{"pointer": "#/" + "/".join(str(p) for p in e["loc"]), "detail": e["msg"]} for e in error.errors()]
            if isinstance(error, ValidationError)
            else [{"pointer": "#", "detail": "not JSON"}]
        )
        raise InvalidVendorAnswer("The vendor's answer is not valid.", errors) from None
