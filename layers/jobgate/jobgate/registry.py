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
    """Standard workflows can be stopped; Express ones cannot, so they cancel cooperatively."""

    STANDARD = "STANDARD"
    EXPRESS = "EXPRESS"


@dataclass(frozen=True)
class JobType:
    name: str
    input_model: type[BaseModel]
    # The step names shown as `pending` from the start, so progress has a denominator.
    steps: Callable[[BaseModel], list[str]]
    workflow: Workflow = Workflow.STANDARD
    description: str = ""
    # False: DELETE does not StopExecution a Standard workflow; the job becomes `cancelling`
    # and its next task sees that (JobCancelled), so the workflow can still undo its work
    # (a saga's compensations) before it ends `cancelled`. Express workflows always do this.
    stop_on_cancel: bool = True

    def step_names(self, validated_input: BaseModel) -> list[str]:
        return self.steps(validated_input)


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
