"""Item keys of jobgate's tables: the one place where their layout is spelled.

Jobs table (single table), partition JOB#<id>: sort JOB (the job), EVENT#<seq> (its timeline /
webhook outbox), RESULT, DELIVERY#<seq>#<attempt> (each webhook attempt), CALLBACK#GONE (once a
receiver answered 410). Partition IDEMPOTENCY#<tenant>#<key hash>: the job a submit with that key
created. The GSI `jobs-by-tenant` (tenantId, jobId) holds only job items: other items lack `jobId`.

Tenants table (partition key only): TENANT#<id> (the tenant), APIKEY#<key hash> (whose key it is,
until when it works, and whether its tenant is disabled: what the API decides a request by).
"""

from __future__ import annotations

from typing import Any

JOB_PREFIX = "JOB#"
JOB_SORT_KEY = "JOB"
RESULT_SORT_KEY = "RESULT"
IDEMPOTENCY_SORT_KEY = "IDEMPOTENCY"
EVENT_PREFIX = "EVENT#"
DELIVERY_PREFIX = "DELIVERY#"
CALLBACK_GONE_SORT_KEY = "CALLBACK#GONE"
TENANT_INDEX = "jobs-by-tenant"
SEQUENCE_DIGITS = 10
ATTEMPT_DIGITS = 4


def job_partition(job_id: str) -> str:
    return f"{JOB_PREFIX}{job_id}"


def job_id_of_partition(partition: str) -> str:
    return partition.removeprefix(JOB_PREFIX)


def event_sort_key(sequence: int) -> str:
    return f"{EVENT_PREFIX}{sequence:0{SEQUENCE_DIGITS}d}"


def sequence_of_event(sort_key: str) -> int:
    return int(sort_key.removeprefix(EVENT_PREFIX))


def delivery_sort_key(sequence: int, attempt: int) -> str:
    return f"{DELIVERY_PREFIX}{sequence:0{SEQUENCE_DIGITS}d}#{attempt:0{ATTEMPT_DIGITS}d}"


def idempotency_partition(tenant_id: str, key_hash: str) -> str:
    return f"IDEMPOTENCY#{tenant_id}#{key_hash}"


def job_key(job_id: str) -> dict[str, Any]:
    return job_item_key(job_id, JOB_SORT_KEY)


def job_item_key(job_id: str, sort_key: str) -> dict[str, Any]:
    """The key of any item in a job's partition: the job, an event, its result, a delivery."""
    return {"pk": {"S": job_partition(job_id)}, "sk": {"S": sort_key}}


TENANT_PREFIX = "TENANT#"
API_KEY_PREFIX = "APIKEY#"


def tenant_partition(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}"


def api_key_partition(key_hash: str) -> str:
    return f"{API_KEY_PREFIX}{key_hash}"


def key_hash_of_partition(partition: str) -> str:
    return partition.removeprefix(API_KEY_PREFIX)


def job_type_item_key(kind: str, item_id: str) -> dict[str, Any]:
    """A job type's own item in the jobs table: partition <kind>#<id>, sort <kind>."""
    return {"pk": {"S": f"{kind}#{item_id}"}, "sk": {"S": kind}}
