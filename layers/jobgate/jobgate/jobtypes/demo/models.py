"""What the `demo` job type takes as input and what its step task receives."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from jobgate.lazy import LazyModel


class DemoInput(LazyModel):
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


class DemoStepRequest(LazyModel):
    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="jobId")
    input: DemoInput
    # Absent on the first step: the task gets the execution's input as it is.
    step_index: int = Field(default=0, alias="stepIndex", ge=0)


class DemoStepFailed(Exception):
    """The step the submitter asked to fail (failAtStep); the state machine catches it by name."""


def demo_step_name(index: int) -> str:
    return f"step-{index + 1}"
