"""The `background-check` job type: several vendors check a candidate at once.

Each vendor is a step: `running` while the vendor works, then `succeeded` with its finding
(clear / record_found) or `skipped` with finding `inconclusive` when it did not answer in
time. The result is every vendor's finding and an overall verdict. See
docs/job-types/background-check.md. This module is the registration (JobTypeModules).
"""

from __future__ import annotations

from pydantic import BaseModel

from jobgate.jobtypes.background_check.models import BackgroundCheckInput
from jobgate.registry import JobType


def _vendor_steps(validated: BaseModel) -> list[str]:
    assert isinstance(validated, BackgroundCheckInput)
    return [vendor.value for vendor in validated.checks]


JOB_TYPE = JobType(
    name="background-check",
    input_model=BackgroundCheckInput,
    steps=_vendor_steps,
    description="Asks identity, criminal, employment and education vendors about a candidate, at once.",
)
