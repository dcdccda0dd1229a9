"""Builds the `demo` job type's task from the function's settings."""

from __future__ import annotations

from jobgate import wiring
from jobgate.jobtypes.demo.workflow import DemoSteps


def demo_steps() -> DemoSteps:
    return DemoSteps(wiring.job_service())
