"""JobStore: jobs, their events and idempotency claims in the DynamoDB jobs table."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic.alias_generators import to_camel

from jobgate.domain.changes import AppliedChange
from jobgate.domain.models import EventType, Job, JobEvent, latest_event
from jobgate.domain.status import JobStatus
from jobgate.ids import is_job_id
from jobgate.observability import logger
from jobgate.store import keys
from jobgate.store.events import event_from_item, event_item
from jobgate.store.transactions import new_write_token, transact_once
from jobgate.timeutil import to_epoch_seconds

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

Item = dict[str, "AttributeValueTypeDef"]

IDEMPOTENCY_WINDOW = timedelta(hours=24)
# Event items outlive a job that never ends cleanly only this long; the job's own expiry
# (its TTL) is what clients see, this only bounds storage.
EVENT_BACKSTOP_TTL = timedelta(days=400)
# The job item's attribute that marks it as being purged (JobStore.claim_purge).
PURGE_CLAIM = "purgeClaim"
# Events of changes that another change always follows (none ends a job), stored in two plain
# writes (JobStore.save_change): a lost second write is made good by that next change.
TWO_WRITE_EVENTS = frozenset({EventType.STARTED, EventType.STEP, EventType.PROGRESS, EventType.CANCELLING})
BATCH_GET_LIMIT = 100  # keys per BatchGetItem (DynamoDB's limit)


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class IdempotencyClaim:
    key: str
    key_hash: str
    request_hash: str


@dataclass(frozen=True)
class CreateOutcome:
    job_id: str
    created: bool
    """False when an earlier submit with the same Idempotency-Key and body created the job."""


@dataclass(frozen=True)
class StoredJob:
    """A job as read for a change; `unwritten_event` is the item of its latest event when that
    was never written (store a change in two writes, the second lost): the next change writes it."""

    job: Job
    unwritten_event: Item | None = None


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_cursor: str | None


@dataclass(frozen=True)
class EventPage:
    events: list[JobEvent]
    has_more: bool


class IdempotencyKeyReused(Exception):
    """The key is claimed by a different request body."""


class JobStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, job_id: str, *, consistent: bool = True) -> Job | None:
        response = self._client.get_item(TableName=self._table, Key=keys.job_key(job_id), ConsistentRead=consistent)
        item = response.get("Item")
        return None if item is None or PURGE_CLAIM in item else _job_from_item(item)

    def create(self, job: Job, claim: IdempotencyClaim | None, now: datetime) -> CreateOutcome:
        """Write a new job, atomically with its idempotency claim when there is one."""
        token = new_write_token()
        writes: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _job_item(job, token),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        if claim is not None:
            writes.append({"Put": self._claim_put(job, claim, now)})
        try:
            if claim is None:  # one item: a plain write, half a transaction's price
                self._client.put_item(**writes[0]["Put"])
            else:
                transact_once(self._client, writes, token)
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            if self._holds_write(job.id, token):
                return CreateOutcome(job_id=job.id, created=True)  # a retry of our own committed write
            if claim is None:
                raise
            return self._replay(job.tenant_id, claim)
        return CreateOutcome(job_id=job.id, created=True)

    def _holds_write(self, job_id: str, token: str) -> bool:
        """Whether the job item is the one written with `token` (see store/transactions.py)."""
        response = self._client.get_item(
            TableName=self._table, Key=keys.job_key(job_id), ProjectionExpression="writeToken", ConsistentRead=True
        )
        return response.get("Item", {}).get("writeToken", {}).get("S") == token

    def _claim_put(self, job: Job, claim: IdempotencyClaim, now: datetime) -> Any:
        expires = to_epoch_seconds(now + IDEMPOTENCY_WINDOW)
        return {
            "TableName": self._table,
            "Item": {
                "pk": {"S": keys.idempotency_partition(job.tenant_id, claim.key_hash)},
                "sk": {"S": keys.IDEMPOTENCY_SORT_KEY},
                "createdJobId": {"S": job.id},
                "requestHash": {"S": claim.request_hash},
                "ttl": {"N": str(expires)},
            },
            # An expired claim that TTL has not removed yet is free to take again.
            "ConditionExpression": "attribute_not_exists(pk) OR #ttl < :now",
            "ExpressionAttributeNames": {"#ttl": "ttl"},
            "ExpressionAttributeValues": {":now": {"N": str(to_epoch_seconds(now))}},
        }

    def _replay(self, tenant_id: str, claim: IdempotencyClaim) -> CreateOutcome:
        response = self._client.get_item(
            TableName=self._table,
            Key={
                "pk": {"S": keys.idempotency_partition(tenant_id, claim.key_hash)},
                "sk": {"S": keys.IDEMPOTENCY_SORT_KEY},
            },
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None:  # the claim vanished between write and read: the job id collided instead
            raise RuntimeError("job id collision without an idempotency claim")
        if item["requestHash"]["S"] != claim.request_hash:
            raise IdempotencyKeyReused(claim.key)
        return CreateOutcome(job_id=item["createdJobId"]["S"], created=False)

    def read_for_change(self, job_id: str) -> StoredJob | None:
        """The job, as `get`, and whether its latest event's item is missing: one Query of the
        job item and the newest EVENT# item (adjacent sort keys), costing what GetItem does."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :events AND :job",
            ExpressionAttributeValues={
                ":pk": {"S": keys.job_partition(job_id)},
                ":events": {"S": keys.EVENT_PREFIX},
                ":job": {"S": keys.JOB_SORT_KEY},
            },
            ScanIndexForward=False,
            Limit=2,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        if not items or items[0]["sk"]["S"] != keys.JOB_SORT_KEY or PURGE_CLAIM in items[0]:
            return None
        job_item = items[0]
        job = _job_from_item(job_item)
        newest_event = items[1]["sk"]["S"] if len(items) > 1 else None
        # Only a change written in two writes can lack its event, and its job item names the event's type.
        written = newest_event == keys.event_sort_key(job.last_sequence)
        if job.last_sequence == 0 or written or "eventType" not in job_item:
            return StoredJob(job=job)
        latest = latest_event(job, EventType(job_item["eventType"]["S"]))
        return StoredJob(job=job, unwritten_event=event_item(job, latest, _event_ttl(job)))

    def save_change(self, before: StoredJob, applied: AppliedChange, with_items: Sequence[Item] = ()) -> bool:
        """Persist a job change and its event, and `with_items` with them (a result goes with the
        success); False if the job moved meanwhile. A missing event of `before` is written first.

        A change that ends the job, or writes `with_items`, is one transaction. Any other (start,
        step, progress, cancelling: most of them) is two plain writes, half the price: the job on
        its version, then its event, which the job item determines (its state, sequence, time and
        `eventType`). If the second write is lost (a crash, a throttle), the job's next change
        writes it first (read_for_change); a job always ends with a change, so every event is
        written, in sequence order, exactly one per change.
        """
        token = new_write_token()
        job_put: Any = {
            "TableName": self._table,
            "Item": _job_item(applied.job, token, applied.event.type),
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": {":expected": {"N": str(before.job.version)}},
        }
        event = event_item(applied.job, applied.event, _event_ttl(applied.job))
        missing = [] if before.unwritten_event is None else [before.unwritten_event]
        if applied.event.type in TWO_WRITE_EVENTS and not with_items:
            return self._save_in_two_writes(job_put, event, missing, token)
        # No condition of their own: the job's version condition decides for the whole write.
        companions: list[TransactWriteItemTypeDef] = [
            {"Put": {"TableName": self._table, "Item": i}} for i in [*missing, *with_items]
        ]
        try:
            transact_once(
                self._client,
                [
                    {"Put": job_put},
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": event,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    *companions,
                ],
                token,
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return self._holds_write(applied.job.id, token)
            raise
        return True

    def _save_in_two_writes(self, job_put: Any, event: Item, missing: list[Item], token: str) -> bool:
        for item in missing:  # before the job moves on, so that events arrive in sequence order
            self._client.put_item(TableName=self._table, Item=item)
        try:
            self._client.put_item(**job_put)
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            if not self._holds_write(job_put["Item"]["jobId"]["S"], token):
                return False
        try:
            # No condition: whoever writes it (this writer, or the next change's) writes the same item.
            self._client.put_item(TableName=self._table, Item=event)
        except (ClientError, BotoCoreError) as error:
            # The change is committed; its event is written by the job's next change.
            logger.warning("a change's event is left to the job's next change", extra={"error": str(error)})
        return True

    def list_for_tenant(
        self,
        tenant_id: str,
        *,
        limit: int,
        cursor: str | None,
        status: JobStatus | None,
        job_type: str | None,
        now: datetime,
    ) -> JobPage:
        """Newest first. The cursor names the last job returned, so pages never skip or repeat.

        The index holds only the keys, `status` and `type` (template.yaml), so that a change
        that keeps the status writes nothing to it; the page's jobs are then read in one
        BatchGetItem, and shown as they are now: one that expired, was purged or left the
        asked-for status since the index saw it is left out.
        """
        filters = []
        names: dict[str, str] = {}
        values: dict[str, AttributeValueTypeDef] = {":tenant": {"S": tenant_id}}
        if status is not None:
            filters.append("#status = :status")
            names["#status"] = "status"
            values[":status"] = {"S": status.value}
        if job_type is not None:
            filters.append("#type = :type")
            names["#type"] = "type"
            values[":type"] = {"S": job_type}
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": keys.TENANT_INDEX,
            "KeyConditionExpression": "tenantId = :tenant",
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit + 1,
        }
        if filters:
            query["FilterExpression"] = " AND ".join(filters)
            query["ExpressionAttributeNames"] = names
        if cursor:
            query["ExclusiveStartKey"] = _decode_cursor(cursor, tenant_id)
        jobs: list[Job] = []
        while True:
            response = self._client.query(**query)
            listed = [item["jobId"]["S"] for item in response.get("Items", [])]
            jobs.extend(
                job
                for job in self._current_jobs(listed, now)
                if (status is None or job.status is status) and (job_type is None or job.type == job_type)
            )
            last_key = response.get("LastEvaluatedKey")
            if len(jobs) > limit or last_key is None:
                break
            query["ExclusiveStartKey"] = last_key
        if len(jobs) > limit:
            page = jobs[:limit]
            return JobPage(jobs=page, next_cursor=_encode_cursor(page[-1]))
        return JobPage(jobs=jobs, next_cursor=None)

    def _current_jobs(self, job_ids: Sequence[str], now: datetime) -> list[Job]:
        """The jobs, in the order given, leaving out those gone, purged or expired (TTL pending).

        Eventually consistent, half the price, like the index itself: DynamoDB copies a job to
        the index after its write has committed, so the job is there to be read.
        """
        found: dict[str, Job] = {}
        for start in range(0, len(job_ids), BATCH_GET_LIMIT):
            chunk = job_ids[start : start + BATCH_GET_LIMIT]
            pending: Any = {self._table: {"Keys": [keys.job_key(job_id) for job_id in chunk]}}
            while pending:
                response = self._client.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self._table, []):
                    if PURGE_CLAIM not in item and not _ttl_passed(item, now):
                        job = _job_from_item(item)
                        found[job.id] = job
                pending = response.get("UnprocessedKeys") or {}
        return [found[job_id] for job_id in job_ids if job_id in found]

    def active(self) -> Iterator[Job]:
        """Every job not yet finished, across tenants, for the sweeper (functions/job_sweeper).

        A Scan: the sweeper runs once a minute and reads each item once; a sparse index of
        active jobs would cost a write on every change to save that read.
        """
        query: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": f"sk = :job AND #status IN (:queued, :running, :cancelling) "
            f"AND attribute_not_exists({PURGE_CLAIM})",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":job": {"S": keys.JOB_SORT_KEY},
                ":queued": {"S": JobStatus.QUEUED.value},
                ":running": {"S": JobStatus.RUNNING.value},
                ":cancelling": {"S": JobStatus.CANCELLING.value},
            },
            "ConsistentRead": True,
        }
        while True:
            response = self._client.scan(**query)
            yield from (_job_from_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def list_events(self, job_id: str, *, after: int, limit: int) -> EventPage:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":pk": {"S": keys.job_partition(job_id)},
                ":first": {"S": keys.event_sort_key(after + 1)},
                ":last": {"S": keys.event_sort_key(10**keys.SEQUENCE_DIGITS - 1)},
            },
            ConsistentRead=True,
            Limit=limit + 1,
        )
        items = response.get("Items", [])
        events = [JobEvent.model_validate_json(event_from_item(dict(item)).body) for item in items[:limit]]
        return EventPage(events=events, has_more=len(items) > limit)

    def claim_purge(self, job_id: str) -> bool:
        """Take the one right to purge a finished job: True for exactly one of concurrent callers.

        From the claim on the job reads as gone (docs/api.md: a second DELETE is 404). A
        token, not a plain delete, so that a botocore retry of our own committed claim is
        recognised as ours instead of read as someone else's.
        """
        token = new_write_token()
        try:
            self._client.update_item(
                TableName=self._table,
                Key=keys.job_key(job_id),
                UpdateExpression="SET #claim = :token",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#claim)",
                ExpressionAttributeNames={"#claim": PURGE_CLAIM},
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            held = self._client.get_item(
                TableName=self._table, Key=keys.job_key(job_id), ProjectionExpression=PURGE_CLAIM, ConsistentRead=True
            )
            return held.get("Item", {}).get(PURGE_CLAIM, {}).get("S") == token
        return True

    def purge(self, job_id: str) -> None:
        """Delete the job and everything stored under it (events, result record)."""
        pending_keys = self._partition_keys(job_id)
        for start in range(0, len(pending_keys), 25):
            batch: Any = [{"DeleteRequest": {"Key": key}} for key in pending_keys[start : start + 25]]
            request = {self._table: batch}
            while request:
                response = self._client.batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}

    def _partition_keys(self, job_id: str) -> list[Item]:
        found: list[Item] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": keys.job_partition(job_id)}},
            "ProjectionExpression": "pk, sk",
        }
        while True:
            response = self._client.query(**query)
            found.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


# Attributes of their own on the job item (the keys, the index, conditions), so not in `doc` again.
_JOB_ATTRIBUTES = {"id": "jobId", "tenant_id": "tenantId", "status": "status", "type": "type", "version": "version"}


def _job_item(job: Job, write_token: str, event_type: EventType | None = None) -> Item:
    """`doc` holds the rest of the job, fields at their defaults left out: under 1 KB, one
    write unit, for a typical job (docs/performance.md)."""
    item: Item = {
        **keys.job_key(job.id),
        "writeToken": {"S": write_token},
        "jobId": {"S": job.id},
        "tenantId": {"S": job.tenant_id},
        "status": {"S": job.status.value},
        "type": {"S": job.type},
        "version": {"N": str(job.version)},
        "doc": {"S": job.model_dump_json(by_alias=True, exclude=set(_JOB_ATTRIBUTES), exclude_defaults=True)},
    }
    if job.expires_at is not None:
        item["ttl"] = {"N": str(to_epoch_seconds(job.expires_at))}
    if event_type is not None:  # its latest event's type: read_for_change rebuilds a lost event from it
        item["eventType"] = {"S": event_type.value}
    return item


def _job_from_item(item: Mapping[str, Any]) -> Job:
    """Also reads a job item written before `doc` left out its attributes (it holds them too)."""
    stored: dict[str, Any] = json.loads(item["doc"]["S"])
    for field, attribute in _JOB_ATTRIBUTES.items():
        value = item[attribute]
        stored[to_camel(field)] = int(value["N"]) if "N" in value else value["S"]
    return Job.model_validate(stored)


def job_owner(item: Mapping[str, Any]) -> tuple[str, str]:
    """(tenant id, job id) of a job item, or of its image in the table's stream."""
    return item["tenantId"]["S"], item["jobId"]["S"]


def _ttl_passed(item: Mapping[str, Any], now: datetime) -> bool:
    """Past its TTL: the job reads as gone to listing, although DynamoDB removes it only later."""
    return "ttl" in item and int(item["ttl"]["N"]) <= to_epoch_seconds(now)


def _event_ttl(job: Job) -> datetime:
    """From the job alone, so that two writers of one event write the same item."""
    return job.expires_at or (job.updated_at + EVENT_BACKSTOP_TTL)


def _is_condition_failure(error: ClientError) -> bool:
    """A condition failed: of a plain write, or of a transaction (then without reasons too)."""
    if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
        return True
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons", [])
    return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons) or not reasons


def _encode_cursor(job: Job) -> str:
    return base64.urlsafe_b64encode(job.id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, tenant_id: str) -> dict[str, AttributeValueTypeDef]:
    try:
        job_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError as error:  # not base64 (non-ASCII included), or not UTF-8 inside
        raise InvalidCursor(cursor) from error
    if not is_job_id(job_id):
        raise InvalidCursor(cursor)
    # The tenant comes from the caller, never from the cursor: a cursor cannot cross tenants.
    return {**keys.job_key(job_id), "tenantId": {"S": tenant_id}, "jobId": {"S": job_id}}
