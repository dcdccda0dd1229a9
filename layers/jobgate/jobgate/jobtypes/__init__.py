"""The job types this deployment runs. Adding one is one line here (see docs/job-types.md)."""

from __future__ import annotations

from jobgate.jobtypes.demo import DEMO_JOB_TYPE
from jobgate.jobtypes.registry import JobType, JobTypeRegistry, UnknownJobType, Workflow

JOB_TYPES = JobTypeRegistry([DEMO_JOB_TYPE])

__all__ = ["JOB_TYPES", "JobType", "JobTypeRegistry", "UnknownJobType", "Workflow"]
