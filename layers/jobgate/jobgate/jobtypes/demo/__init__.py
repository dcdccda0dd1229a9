"""The `demo` job type: a few timed steps with progress, used by the tests and the README tour.

It does no real work; it exists to drive the whole lifecycle (start, steps, progress,
success, failure, cancel, large results) through the same code every job type uses.
This module is the registration (JobTypeModules); see docs/job-types.md.
"""

from __future__ import annotations

from pydantic import BaseModel

from jobgate.jobtypes.demo.models import DemoInput, demo_step_name
from jobgate.registry import JobType


def _demo_steps(validated: BaseModel) -> list[str]:
    assert isinstance(validated, DemoInput)
    return [demo_step_name(i) for i in range(validated.steps)]


JOB_TYPE = JobType(
    name="demo",
    input_model=DemoInput,
    steps=_demo_steps,
    description="Runs a few timed steps and returns a small report.",
)
