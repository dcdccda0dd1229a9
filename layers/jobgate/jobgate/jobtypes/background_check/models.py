"""What a background check is made of: its input, vendors, their findings, and the overall verdict."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from pydantic import ConfigDict, Field, field_validator

from jobgate.jobtypes.background_check.settings import BackgroundCheckSettings
from jobgate.lazy import LazyModel


class Vendor(StrEnum):
    """The vendors a check can ask, in the order the job lists them as steps."""

    IDENTITY = "identity"
    CRIMINAL = "criminal"
    EMPLOYMENT = "employment"
    EDUCATION = "education"


class Finding(StrEnum):
    CLEAR = "clear"
    RECORD_FOUND = "record_found"
    # The vendor could not tell, did not answer in time, or could not be reached.
    INCONCLUSIVE = "inconclusive"


# A vendor step that is waiting for its vendor shows this finding.
PENDING = "pending"


class Candidate(LazyModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    full_name: str = Field(alias="fullName", min_length=1, max_length=200)
    date_of_birth: str = Field(
        alias="dateOfBirth", pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD.", examples=["1990-04-01"]
    )
    national_id: str | None = Field(default=None, alias="nationalId", min_length=1, max_length=64)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)


class BackgroundCheckInput(LazyModel):
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


class VendorAnswer(LazyModel):
    """The body a vendor POSTs to its callback URL (signed), and what resumes the workflow."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    vendor: Vendor
    finding: Finding
    reference: str | None = Field(default=None, max_length=200, description="The vendor's own id of the check.")


class Verdict(LazyModel):
    """The job's result: each vendor's finding and one overall verdict."""

    findings: dict[Vendor, Finding]
    verdict: Finding


def overall_verdict(findings: Mapping[Vendor, Finding]) -> Verdict:
    """`clear` only if every vendor is clear; any record found wins over an inconclusive vendor."""
    values = set(findings.values())
    if Finding.RECORD_FOUND in values:
        verdict = Finding.RECORD_FOUND
    elif not values or Finding.INCONCLUSIVE in values:
        verdict = Finding.INCONCLUSIVE
    else:
        verdict = Finding.CLEAR
    ordered = {vendor: findings[vendor] for vendor in Vendor if vendor in findings}
    return Verdict(findings=ordered, verdict=verdict)
