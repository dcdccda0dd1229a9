"""The `demo` job type: a few timed steps with progress, used by the tests and the README tour.

It does no real work; it exists to drive the whole lifecycle (start, steps, progress,
success, failure, cancel, large results) through the same code every job type uses.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobgate.jobtypes.registry import JobType


class DemoInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: int = Field(default=3, ge=1, le=20, description="How many steps to run.")
    step_seconds: int = Field(
        default=1, ge=0, le=3600, alias="stepSeconds", description="Pause after each step, in seconds."
    )
    fail_at_step: int | None = Field(
        default=None,
        ge=1,
        alias="failAtStep",
        description="Make this step (1-based) raise, to see failure handling.",
    )
    result_bytes: int = Field(
        default=0,
        ge=0,
        le=200_000,
        alias="resultBytes",
        description="Pad the result to about this size, to see large results served from S3.",
    )


def demo_step_name(index: int) -> str:
    return f"step-{index + 1}"


def _demo_steps(validated: BaseModel) -> list[str]:
    assert isinstance(validated, DemoInput)
    return [demo_step_name(i) for i in range(validated.steps)]


JOB_TYPE = JobType(
    name="demo",
    input_model=DemoInput,
    steps=_demo_steps,
    description="Runs a few timed steps and returns a small report.",
)
