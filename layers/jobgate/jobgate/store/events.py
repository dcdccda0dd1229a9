"""The EVENT# item: one event of a job, its timeline entry and its webhooks' outbox.

The item holds the event's type and the job's state at that event (`JobState`, its fields
at their defaults left out), not the event body: the body, `{"sequence", "type",
"timestamp", "data": {"job": <resource>}}`, is rebuilt from them (the sequence from the sort
key, the time from the state's `updatedAt`: domain.models.latest_event), byte for byte what
it was when the item held it. That keeps the item under 1 KB (one write unit) for a typical job,
and needs no read to rebuild: the API's timeline and the webhook dispatcher (from the
stream's NewImage) both call `event_from_item`. Items written before this layout carry the
whole body in `body`, and read as they are.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobgate.domain.models import EventType, Job, JobEvent, JobState
from jobgate.lazy import LazyModel
from jobgate.store import keys
from jobgate.timeutil import to_epoch_seconds

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

STATE_FIELDS = frozenset(JobState.model_fields)


class StoredEvent(LazyModel):
    job_id: str
    tenant_id: str
    sequence: int
    event_type: str
    body: str
    ttl: int


def event_item(job: Job, event: JobEvent, ttl: datetime) -> dict[str, AttributeValueTypeDef]:
    """The item of `event`, the change that made `job`: its sequence is in the key, its time
    is the job's `updatedAt` and its data the job's resource (domain.models.latest_event)."""
    return {
        "pk": {"S": keys.job_partition(job.id)},
        "sk": {"S": keys.event_sort_key(event.sequence)},
        "tenantId": {"S": job.tenant_id},
        "eventType": {"S": event.type.value},
        "state": {"S": job.model_dump_json(by_alias=True, include=set(STATE_FIELDS), exclude_defaults=True)},
        "ttl": {"N": str(to_epoch_seconds(ttl))},
    }


def event_from_item(item: dict[str, Any]) -> StoredEvent:
    """An EVENT# item, from a read or from a stream record's NewImage (same attribute format)."""
    return StoredEvent(
        job_id=keys.job_id_of_partition(item["pk"]["S"]),
        tenant_id=item["tenantId"]["S"],
        sequence=keys.sequence_of_event(item["sk"]["S"]),
        event_type=item["eventType"]["S"],
        body=item["body"]["S"] if "body" in item else _body(item),
        ttl=int(item["ttl"]["N"]),
    )


def _body(item: dict[str, Any]) -> str:
    state = JobState.model_validate_json(item["state"]["S"])
    event = JobEvent(
        sequence=keys.sequence_of_event(item["sk"]["S"]),
        type=EventType(item["eventType"]["S"]),
        timestamp=state.updated_at,
        data={"job": state.to_resource().to_json_dict()},
    )
    return json.dumps(event.to_json_dict(), separators=(",", ":"))
