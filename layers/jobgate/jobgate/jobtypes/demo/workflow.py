"""The `demo` job type's one task: run a step (the state machine loops over them and waits between)."""

from __future__ import annotations

import hashlib
from typing import Any

from jobgate.domain.models import StepStatus
from jobgate.jobtypes.control import JobControl
from jobgate.jobtypes.demo.models import DemoStepFailed, DemoStepRequest, demo_step_name


class DemoSteps:
    def __init__(self, jobs: JobControl) -> None:
        self._jobs = jobs

    def run(self, request: DemoStepRequest) -> dict[str, Any]:
        name = demo_step_name(request.step_index)
        self._jobs.require_active(request.job_id)
        self._jobs.record_step(request.job_id, name, StepStatus.RUNNING)
        if request.input.fail_at_step == request.step_index + 1:
            raise DemoStepFailed(f"{name} failed because the job asked for it (failAtStep).")
        digest = hashlib.sha256(f"{request.job_id}:{name}".encode()).hexdigest()
        self._jobs.record_step(request.job_id, name, StepStatus.SUCCEEDED, detail={"digest": digest[:16]})
        next_index = request.step_index + 1
        done = next_index >= request.input.steps
        return {
            "jobId": request.job_id,
            "input": request.input.model_dump(by_alias=True),
            "stepIndex": next_index,
            "done": done,
            "result": _report(request, digest) if done else None,
        }


def _report(request: DemoStepRequest, digest: str) -> dict[str, Any]:
    report: dict[str, Any] = {"steps": request.input.steps, "digest": digest}
    if request.input.result_bytes:
        report["padding"] = "x" * request.input.result_bytes
    return report
