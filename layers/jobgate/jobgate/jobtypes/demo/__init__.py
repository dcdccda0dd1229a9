"""The `demo` job type: a few timed steps with progress, used by the tests and the README tour.

It does no real work; it exists to drive the whole lifecycle (start, steps, progress,
success, failure, cancel, large results) through the same code every job type uses.
This module is the registration (JobTypeModules); see docs/job-types.md.
"""

from __future__ import annotations

from pydantic import BaseModel

from jobgate.jobtypes.demo.models import DemoInput, demo_step_name
from jobgate.registry import JobType, express_when_planned_within


def _demo_steps(validated: BaseModel) -> list[str]:
    assert isinstance(validated, DemoInput)
    return [demo_step_name(i) for i in range(validated.steps)]


def _planned_seconds(validated: DemoInput) -> float:
    """The pauses between the steps; the steps themselves take a fraction of a second."""
    return (validated.steps - 1) * validated.step_seconds


JOB_TYPE = JobType(
    name="demo",
    input_model=DemoInput,
    steps=_demo_steps,
    # Short runs (the default 3 steps of 1 s) on the Express twin, long ones on Standard.
    workflow=express_when_planned_within(_planned_seconds),
    description="Runs a few timed steps and returns a small report.",
)
