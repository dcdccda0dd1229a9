"""The job types a deployment runs: each is one registration, type name -> input model -> state machine.

Which ones run is the template parameter `JobTypeModules` (env JOB_TYPE_MODULES): modules
that each define `JOB_TYPE` (see docs/job-types.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import BaseModel

JOB_TYPE_ATTRIBUTE = "JOB_TYPE"


class Workflow(StrEnum):
    """Standard workflows can be stopped; Express ones cannot, so they cancel cooperatively.

    Express runs at most 5 minutes, at least once, with no DescribeExecution, StopExecution,
    execution history or EventBridge status events (docs/performance.md, "The cuts")."""

    STANDARD = "STANDARD"
    EXPRESS = "EXPRESS"


# An input whose planned run (the waits a type knows it will make) is at most this long runs
# as Express: the other 4 of Express's 5 minutes are for the tasks themselves and their retries.
EXPRESS_PLANNED_SECONDS = 60.0

WorkflowChoice = Workflow | Callable[[BaseModel], Workflow]


def express_when_planned_within(planned_seconds: Callable[[Any], float]) -> Callable[[BaseModel], Workflow]:
    """Express for an input planned to run within EXPRESS_PLANNED_SECONDS, Standard otherwise."""
    return lambda validated: (
        Workflow.EXPRESS if planned_seconds(validated) <= EXPRESS_PLANNED_SECONDS else Workflow.STANDARD
    )


@dataclass(frozen=True)
class JobType:
    name: str
    input_model: type[BaseModel]
    # The step names shown as `pending` from the start, so progress has a denominator.
    steps: Callable[[BaseModel], list[str]]
    # One workflow type for every job, or a choice per input (each has its own state machine:
    # config.Settings.state_machine_arn).
    workflow: WorkflowChoice = Workflow.STANDARD
    description: str = ""
    # False: DELETE does not StopExecution a Standard workflow; the job becomes `cancelling`
    # and its next task sees that (JobCancelled), so the workflow can still undo its work
    # (a saga's compensations) before it ends `cancelled`. Express workflows always do this.
    stop_on_cancel: bool = True
    # True: an Express run that ends without ending its job (cut off by TimeoutSeconds, or
    # lost) is not simply failed by the sweeper: it starts the type's Standard machine on the
    # job with `recovery` ({"Error", "Cause"}) in its input, which undoes what the run did
    # (a saga's compensations) and then ends the job. The definition routes on `$.recovery`.
    recovers_cut_off_runs: bool = False

    def step_names(self, validated_input: BaseModel) -> list[str]:
        return self.steps(validated_input)

    def workflow_for(self, job_input: dict[str, Any]) -> Workflow:
        """The workflow a job of this type runs on, from its stored (already valid) input."""
        if isinstance(self.workflow, Workflow):
            return self.workflow
        return self.workflow(self.input_model.model_validate(job_input))


class UnknownJobType(KeyError):
    pass


class JobTypeRegistry:
    def __init__(self, job_types: Iterable[JobType]) -> None:
        self._by_name: dict[str, JobType] = {}
        for job_type in job_types:
            if job_type.name in self._by_name:
                raise ValueError(f"job type {job_type.name!r} registered twice")
            self._by_name[job_type.name] = job_type

    def get(self, name: str) -> JobType:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownJobType(name) from None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def with_type(self, job_type: JobType) -> JobTypeRegistry:
        return JobTypeRegistry([*self._by_name.values(), job_type])


def static_steps(*names: str) -> Callable[[Any], list[str]]:
    return lambda _input: list(names)


class InvalidJobTypeModule(ImportError):
    pass


@cache
def load_registry(modules: tuple[str, ...]) -> JobTypeRegistry:
    """The registry of the job types the given modules define (cached: imported once)."""
    job_types: list[JobType] = []
    for module_name in modules:
        job_type = getattr(importlib.import_module(module_name), JOB_TYPE_ATTRIBUTE, None)
        if not isinstance(job_type, JobType):
            raise InvalidJobTypeModule(f"{module_name} defines no {JOB_TYPE_ATTRIBUTE} = JobType(...)")
        job_types.append(job_type)
    return JobTypeRegistry(job_types)
