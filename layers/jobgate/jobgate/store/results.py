"""ResultStore: a job's result, inline in DynamoDB when small, in S3 when large.

A result is recorded only together with the job's success: `prepare` uploads a large result
under a key of this attempt's own and gives the RESULT item, which JobStore writes in the
same transaction as the job's change. An attempt that lost (another one completed the job
first) `discard`s its own object; it never names another attempt's. When a job expires,
`delete_job_objects` removes all it left in the bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobgate.ids import new_attempt_id
from jobgate.store import artifacts, keys
from jobgate.timeutil import to_epoch_seconds

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

# S3's DeleteObjects takes at most 1,000 keys, as many as ListObjectsV2 answers at most.
_DELETE_BATCH = 1000

# Larger results go to S3 and are served by a 303 to a presigned URL; smaller ones are
# answered inline (docs/api.md). 64 KiB keeps a result item far below DynamoDB's 400 KB.
INLINE_RESULT_LIMIT_BYTES = 64 * 1024
RESULT_URL_LIFETIME_SECONDS = 300


@dataclass(frozen=True)
class StoredResult:
    inline_json: str | None
    object_key: str | None


@dataclass(frozen=True)
class PreparedResult:
    """A result ready to be recorded with the job's success: its item, its object (if any) uploaded."""

    item: dict[str, Any]
    object_key: str | None


class ResultStore:
    def __init__(self, dynamodb: DynamoDBClient, s3: S3Client, table_name: str, bucket_name: str) -> None:
        self._dynamodb = dynamodb
        self._s3 = s3
        self._table = table_name
        self._bucket = bucket_name

    def prepare(self, tenant_id: str, job_id: str, result_json: str, keep_until: datetime) -> PreparedResult:
        item: dict[str, Any] = {
            "pk": {"S": keys.job_partition(job_id)},
            "sk": {"S": keys.RESULT_SORT_KEY},
            "ttl": {"N": str(to_epoch_seconds(keep_until))},
        }
        if len(result_json.encode()) <= INLINE_RESULT_LIMIT_BYTES:
            item["body"] = {"S": result_json}
            return PreparedResult(item=item, object_key=None)
        object_key = artifacts.result_key(tenant_id, job_id, new_attempt_id())
        self._s3.put_object(
            Bucket=self._bucket, Key=object_key, Body=result_json.encode(), ContentType="application/json"
        )
        item["objectKey"] = {"S": object_key}
        return PreparedResult(item=item, object_key=object_key)

    def discard(self, prepared: PreparedResult) -> None:
        """The attempt lost: remove its own object (the winner's has another key)."""
        if prepared.object_key is not None:
            self.delete_object(prepared.object_key)

    def get(self, job_id: str) -> StoredResult | None:
        response = self._dynamodb.get_item(
            TableName=self._table,
            Key={"pk": {"S": keys.job_partition(job_id)}, "sk": {"S": keys.RESULT_SORT_KEY}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None:
            return None
        body = item.get("body")
        object_key = item.get("objectKey")
        return StoredResult(
            inline_json=body["S"] if body else None,
            object_key=object_key["S"] if object_key else None,
        )

    def download_url(self, object_key: str) -> str:
        return self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": object_key},
            ExpiresIn=RESULT_URL_LIFETIME_SECONDS,
        )

    def delete_object(self, object_key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=object_key)

    def delete_job_objects(self, tenant_id: str, job_id: str) -> int:
        """Delete every object the job left (its results, a job type's files); how many there were."""
        deleted = 0
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket,
            Prefix=artifacts.job_artifacts_prefix(tenant_id, job_id),
            PaginationConfig={"PageSize": _DELETE_BATCH},
        ):
            objects: list[ObjectIdentifierTypeDef] = [
                {"Key": entry["Key"]} for entry in page.get("Contents", []) if "Key" in entry
            ]
            if objects:
                response = self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": objects, "Quiet": True})
                if response.get("Errors"):
                    raise RuntimeError(f"could not delete objects of job {job_id}: {response['Errors'][:3]}")
                deleted += len(objects)
        return deleted
