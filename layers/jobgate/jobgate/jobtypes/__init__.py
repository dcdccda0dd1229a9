"""Job types. Which ones a deployment runs is one registration: the template parameter
`JobTypeModules` (env JOB_TYPE_MODULES) lists modules that each define `JOB_TYPE`
(see docs/job-types.md)."""

from __future__ import annotations

import importlib
from functools import cache

from jobgate.jobtypes.registry import JobType, JobTypeRegistry, UnknownJobType, Workflow

JOB_TYPE_ATTRIBUTE = "JOB_TYPE"


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


__all__ = ["JobType", "JobTypeRegistry", "UnknownJobType", "Workflow", "load_registry"]
