"""The `background-check` job type: several vendors check a candidate at once.

Each vendor is a step: `running` while the vendor works, then `succeeded` with its finding
(clear / record_found) or `skipped` with finding `inconclusive` when it did not answer in
time. The result is every vendor's finding and an overall verdict. See
docs/job-types/background-check.md and jobgate.background_check.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobgate.background_check.models import Candidate, Vendor
from jobgate.background_check.settings import BackgroundCheckSettings
from jobgate.jobtypes.registry import JobType


class BackgroundCheckInput(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    candidate: Candidate
    checks: list[Vendor] = Field(
        default_factory=lambda: list(Vendor),
        min_length=1,
        description="Which vendors to ask (default: all four).",
    )
    timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        alias="timeoutSeconds",
        validate_default=True,
        description="How long each vendor may take before its finding is inconclusive "
        "(default and upper bound: the deployment's VendorCheckTimeoutSeconds).",
    )

    @field_validator("checks")
    @classmethod
    def _each_vendor_once(cls, checks: list[Vendor]) -> list[Vendor]:
        if len(set(checks)) != len(checks):
            raise ValueError("each vendor may be listed once")
        return [vendor for vendor in Vendor if vendor in checks]

    @field_validator("timeout_seconds")
    @classmethod
    def _bounded_timeout(cls, timeout_seconds: int | None) -> int:
        limit = BackgroundCheckSettings.from_environment().vendor_check_timeout_seconds
        if timeout_seconds is None:
            return limit
        if timeout_seconds > limit:
            raise ValueError(f"may be at most {limit} in this deployment")
        return timeout_seconds


def _vendor_steps(validated: BaseModel) -> list[str]:
    assert isinstance(validated, BackgroundCheckInput)
    return [vendor.value for vendor in validated.checks]


JOB_TYPE = JobType(
    name="background-check",
    input_model=BackgroundCheckInput,
    steps=_vendor_steps,
    description="Asks identity, criminal, employment and education vendors about a candidate, at once.",
)
