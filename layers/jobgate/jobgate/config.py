"""Function settings, read from the function's environment through one seam.

Every setting is a variable that template.yaml's Globals give every function (most from a
template parameter): the template is the one place of their defaults, so none is repeated
here and a missing variable is an error, not a silent fallback.

On Lambda the environment is `os.environ`, and so it is in the local stack, which runs each
execution environment in a process of its own. Code reads it via `current_environment()`,
so that a test can bind another mapping with `function_environment(...)` instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from typing import Self

from pydantic import ConfigDict, Field

from jobgate.domain.retention import RetentionPolicy, parse_iso_duration
from jobgate.lazy import LazyModel

# A job type's Express state machine is its Standard one's name plus this.
EXPRESS_MACHINE_SUFFIX = "-express"

_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("jobgate_environment", default=None)


def current_environment() -> Mapping[str, str]:
    bound = _ENVIRONMENT.get()
    return bound if bound is not None else os.environ


@contextmanager
def function_environment(environment: Mapping[str, str]) -> Iterator[None]:
    token = _ENVIRONMENT.set(environment)
    try:
        yield
    finally:
        _ENVIRONMENT.reset(token)


class EnvironmentSettings(LazyModel):
    """Settings read from the environment: subclasses declare fields with the variable as alias."""

    model_config = ConfigDict(frozen=True)

    @classmethod
    def from_environment(cls) -> Self:
        return cls.model_validate(dict(current_environment()))


class Settings(EnvironmentSettings):
    """What every jobgate function needs to know about its deployment."""

    jobs_table_name: str = Field(alias="JOBS_TABLE_NAME")
    tenants_table_name: str = Field(alias="TENANTS_TABLE_NAME")
    artifacts_bucket_name: str = Field(alias="ARTIFACTS_BUCKET_NAME")
    state_machine_arn_prefix: str = Field(alias="STATE_MACHINE_ARN_PREFIX")
    job_retention_default: str = Field(alias="JOB_RETENTION_DEFAULT")
    job_retention_min: str = Field(alias="JOB_RETENTION_MIN")
    job_retention_max: str = Field(alias="JOB_RETENTION_MAX")
    stage: str = Field(alias="STAGE")
    job_type_module_list: str = Field(alias="JOB_TYPE_MODULES")
    webhook_retry_schedule: str = Field(alias="WEBHOOK_RETRY_SCHEDULE")
    webhook_allowed_networks: str = Field(alias="WEBHOOK_ALLOWED_NETWORKS")
    webhook_connect_timeout_seconds: float = Field(alias="WEBHOOK_CONNECT_TIMEOUT_SECONDS")
    webhook_attempt_timeout_seconds: float = Field(alias="WEBHOOK_ATTEMPT_TIMEOUT_SECONDS")
    webhook_first_attempt_timeout_seconds: float = Field(alias="WEBHOOK_FIRST_ATTEMPT_TIMEOUT_SECONDS")
    webhook_retry_queue_url: str = Field(alias="WEBHOOK_RETRY_QUEUE_URL")
    # Empty: failed deliveries are not dead-lettered.
    webhook_dead_letter_queue_url: str = Field(alias="WEBHOOK_DEAD_LETTER_QUEUE_URL")

    @cached_property
    def retention_policy(self) -> RetentionPolicy:
        return RetentionPolicy(
            default=parse_iso_duration(self.job_retention_default),
            minimum=parse_iso_duration(self.job_retention_min),
            maximum=parse_iso_duration(self.job_retention_max),
        )

    @cached_property
    def job_type_modules(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.job_type_module_list.split(",") if name.strip())

    @cached_property
    def webhook_retry_delays(self) -> tuple[float, ...]:
        return tuple(float(part) for part in self.webhook_retry_schedule.split(",") if part.strip())

    def state_machine_arn(self, job_type: str, *, express: bool = False) -> str:
        """Job type `demo` runs on state machine `<stack>-job-demo`, as Express on
        `<stack>-job-demo-express` (a naming rule the template follows)."""
        return f"{self.state_machine_arn_prefix}{job_type}{EXPRESS_MACHINE_SUFFIX if express else ''}"
