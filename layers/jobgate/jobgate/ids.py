"""Identifiers: ULIDs sort by creation time, so job ids list newest-first without another index key."""

from __future__ import annotations

import re

from ulid import ULID

JOB_ID_PATTERN = re.compile(r"^job_[0-9A-HJKMNP-TV-Z]{26}$")
UPLOAD_ID_PATTERN = re.compile(r"^upl_[0-9A-HJKMNP-TV-Z]{26}$")


def new_job_id() -> str:
    return f"job_{ULID()}"


def new_upload_id() -> str:
    return f"upl_{ULID()}"


def new_attempt_id() -> str:
    """Names one attempt to complete a job (its result object's key)."""
    return str(ULID()).lower()


def is_job_id(value: str) -> bool:
    return bool(JOB_ID_PATTERN.match(value))
