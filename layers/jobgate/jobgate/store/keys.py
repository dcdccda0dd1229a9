"""Item keys of the jobs table: one place for the single-table layout.

partition JOB#<id>: sort JOB (the job), EVENT#<seq> (its timeline / webhook outbox), RESULT.
partition IDEMPOTENCY#<tenant>#<key hash>: the job a submit with that key created.
The GSI `jobs-by-tenant` (tenantId, jobId) holds only job items: other items lack `jobId`.
"""

from __future__ import annotations

from typing import Any

JOB_SORT_KEY = "JOB"
RESULT_SORT_KEY = "RESULT"
IDEMPOTENCY_SORT_KEY = "IDEMPOTENCY"
EVENT_PREFIX = "EVENT#"
TENANT_INDEX = "jobs-by-tenant"
SEQUENCE_DIGITS = 10


def job_partition(job_id: str) -> str:
    return f"JOB#{job_id}"


def event_sort_key(sequence: int) -> str:
    return f"{EVENT_PREFIX}{sequence:0{SEQUENCE_DIGITS}d}"


def idempotency_partition(tenant_id: str, key_hash: str) -> str:
    return f"IDEMPOTENCY#{tenant_id}#{key_hash}"


def job_key(job_id: str) -> dict[str, Any]:
    return {"pk": {"S": job_partition(job_id)}, "sk": {"S": JOB_SORT_KEY}}


def job_type_item_key(kind: str, item_id: str) -> dict[str, Any]:
    """A job type's own item in the jobs table: partition <kind>#<id>, sort <kind>."""
    return {"pk": {"S": f"{kind}#{item_id}"}, "sk": {"S": kind}}
