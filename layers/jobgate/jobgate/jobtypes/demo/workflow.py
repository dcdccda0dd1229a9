"""The `demo` job type's one task: run a step (the state machine loops over them and waits between).

The first step also starts the job and the last one succeeds it, so the state machine has no
lifecycle states on its way to success. Each step may run twice (a retried invocation, or a
whole Express execution run again): a step already done is not done again.
"""

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
        self._jobs.start_or_resume(request.job_id)
        digest = hashlib.sha256(f"{request.job_id}:{name}".encode()).hexdigest()
        if self._jobs.begin_step(request.job_id, name):
            if request.input.fail_at_step == request.step_index + 1:
                raise DemoStepFailed(f"{name} failed because the job asked for it (failAtStep).")
            self._jobs.record_step(request.job_id, name, StepStatus.SUCCEEDED, detail={"digest": digest[:16]})
        next_index = request.step_index + 1
        done = next_index >= request.input.steps
        if done:
            self._jobs.complete_or_stop(request.job_id, _report(request, digest))
        # The result is stored with the job, not carried in the execution's state.
        return {
            "jobId": request.job_id,
            "input": request.input.model_dump(by_alias=True),
            "stepIndex": next_index,
            "done": done,
        }


def _report(request: DemoStepRequest, digest: str) -> dict[str, Any]:
    report: dict[str, Any] = {"steps": request.input.steps, "digest": digest}
    if request.input.result_bytes:
        report["padding"] = "x" * request.input.result_bytes
    return report
