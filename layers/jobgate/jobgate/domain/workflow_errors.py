"""What a state machine's Catch hands the next task: Step Functions' {"Error", "Cause"}."""

from __future__ import annotations

import json

from pydantic import ConfigDict, Field

from jobgate.lazy import LazyModel

# A job's error.detail, and each part of a rollback report, keeps at most this much of a cause.
CAUSE_LIMIT_CHARS = 1000
NO_DETAIL = "no detail was reported"


class WorkflowError(LazyModel):
    """What a Catch puts at its ResultPath."""

    model_config = ConfigDict(populate_by_name=True)

    error: str = Field(alias="Error")
    cause: str | None = Field(default=None, alias="Cause")


def readable_cause(cause: str | None, if_missing: str = NO_DETAIL) -> str:
    """A Lambda error's Cause is JSON with a stack trace; clients get only its message."""
    if not cause:
        return if_missing
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:CAUSE_LIMIT_CHARS]
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])[:CAUSE_LIMIT_CHARS]
    return cause[:CAUSE_LIMIT_CHARS]
