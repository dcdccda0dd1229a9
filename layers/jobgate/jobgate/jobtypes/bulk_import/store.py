"""The ImportedRecordsTable: imported rows, and each import's counters.

Rows: pk = "<tenant>#<email>" (the natural key, so a re-import updates a customer in
place), tagged with `importJobId`; the `records-by-import-job` index finds what one job
loaded, which is how all-or-nothing rolls back. Counters: pk = "import#<job id>" (no
`@`, so never a row's key), with a TTL; shared by a job's concurrent chunks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from jobgate.jobtypes.bulk_import.models import LoadFailed
from jobgate.jobtypes.bulk_import.schema import CustomerRecord
from jobgate.timeutil import to_epoch_seconds, to_rfc3339, utc_now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, WriteRequestTypeDef

BATCH_SIZE = 25
MAX_BATCH_ATTEMPTS = 8
BY_IMPORT_JOB_INDEX = "records-by-import-job"
COUNTER_LIFETIME = timedelta(days=7)


def record_key(tenant_id: str, email: str) -> str:
    return f"{tenant_id}#{email}"


def counter_key(job_id: str) -> str:
    return f"import#{job_id}"


class RecordTable:
    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table_name: str,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._sleep = sleep
        self._clock = clock

    # --- rows ---------------------------------------------------------------------------

    def writer(self, tenant_id: str, job_id: str) -> RecordWriter:
        return RecordWriter(self, tenant_id, job_id, to_rfc3339(self._clock()))

    def write_batch(self, requests: list[WriteRequestTypeDef]) -> None:
        """BatchWriteItem, retrying UnprocessedItems with jittered backoff."""
        pending = requests
        for attempt in range(MAX_BATCH_ATTEMPTS):
            if attempt:
                self._sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))
            response = self._dynamodb.batch_write_item(RequestItems={self._table: pending})
            pending = cast("list[WriteRequestTypeDef]", response.get("UnprocessedItems", {}).get(self._table, []))
            if not pending:
                return
        raise LoadFailed(f"DynamoDB left {len(pending)} writes unprocessed after {MAX_BATCH_ATTEMPTS} attempts.")

    def keys_loaded_by(self, job_id: str) -> Iterator[str]:
        paginator = self._dynamodb.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            IndexName=BY_IMPORT_JOB_INDEX,
            KeyConditionExpression="importJobId = :job",
            ExpressionAttributeValues={":job": {"S": job_id}},
        ):
            for item in page.get("Items", []):
                yield item["pk"]["S"]

    def delete_loaded_by(self, job_id: str, settle_seconds: float = 1.0, max_rounds: int = 10) -> int:
        """Delete every row this job wrote. The index is eventually consistent, so query
        again until a round finds nothing. Returns how many rows were deleted."""
        deleted = 0
        for round_number in range(max_rounds):
            if round_number:
                self._sleep(settle_seconds)
            found = 0
            batch: list[WriteRequestTypeDef] = []
            for key in self.keys_loaded_by(job_id):
                found += 1
                batch.append({"DeleteRequest": {"Key": {"pk": {"S": key}}}})
                if len(batch) == BATCH_SIZE:
                    self.write_batch(batch)
                    batch = []
            if batch:
                self.write_batch(batch)
            deleted += found
            if not found:
                return deleted
        return deleted

    # --- counters -----------------------------------------------------------------------

    def add_to_counter(self, job_id: str, name: str, amount: int) -> int:
        """Atomically add to one of the job's counters; returns the new total."""
        response = self._dynamodb.update_item(
            TableName=self._table,
            Key={"pk": {"S": counter_key(job_id)}},
            UpdateExpression="ADD #n :amount SET #ttl = if_not_exists(#ttl, :ttl)",
            ExpressionAttributeNames={"#n": name, "#ttl": "ttl"},
            ExpressionAttributeValues={
                ":amount": {"N": str(amount)},
                ":ttl": {"N": str(to_epoch_seconds(self._clock() + COUNTER_LIFETIME))},
            },
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"][name]["N"])

    def read_counter(self, job_id: str, name: str) -> int:
        item = self._dynamodb.get_item(
            TableName=self._table, Key={"pk": {"S": counter_key(job_id)}}, ConsistentRead=True
        ).get("Item", {})
        value = item.get(name)
        return int(value["N"]) if value else 0


class RecordWriter:
    """Buffers rows into batches of 25. Within a batch a repeated email keeps the later row
    (BatchWriteItem refuses two writes of one key)."""

    def __init__(self, table: RecordTable, tenant_id: str, job_id: str, imported_at: str) -> None:
        self._table = table
        self._tenant_id = tenant_id
        self._job_id = job_id
        self._imported_at = imported_at
        self._batch: dict[str, dict[str, AttributeValueTypeDef]] = {}
        self.written = 0

    def add(self, record: CustomerRecord) -> None:
        key = record_key(self._tenant_id, record.email)
        self._batch[key] = self._item(key, record)
        if len(self._batch) == BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if not self._batch:
            return
        self._table.write_batch([{"PutRequest": {"Item": item}} for item in self._batch.values()])
        self.written += len(self._batch)
        self._batch = {}

    def _item(self, key: str, record: CustomerRecord) -> dict[str, Any]:
        return {
            "pk": {"S": key},
            "tenantId": {"S": self._tenant_id},
            "email": {"S": record.email},
            "name": {"S": record.name},
            "country": {"S": record.country},
            "signupDate": {"S": record.signup_date.isoformat()},
            "lifetimeValue": {"N": str(record.lifetime_value)},
            "importJobId": {"S": self._job_id},
            "importedAt": {"S": self._imported_at},
        }
