"""ResultStore: a job's result, inline in DynamoDB when small, in S3 when large."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from jobgate.store import artifacts, keys
from jobgate.timeutil import to_epoch_seconds

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client

# Larger results go to S3 and are served by a 303 to a presigned URL; smaller ones are
# answered inline (docs/api.md). 64 KiB keeps a result item far below DynamoDB's 400 KB.
INLINE_RESULT_LIMIT_BYTES = 64 * 1024
RESULT_URL_LIFETIME_SECONDS = 300


@dataclass(frozen=True)
class StoredResult:
    inline_json: str | None
    object_key: str | None


class ResultStore:
    def __init__(self, dynamodb: DynamoDBClient, s3: S3Client, table_name: str, bucket_name: str) -> None:
        self._dynamodb = dynamodb
        self._s3 = s3
        self._table = table_name
        self._bucket = bucket_name

    def put(self, tenant_id: str, job_id: str, result_json: str, keep_until: datetime) -> None:
        item: dict[str, dict[str, str]] = {
            "pk": {"S": keys.job_partition(job_id)},
            "sk": {"S": keys.RESULT_SORT_KEY},
            "ttl": {"N": str(to_epoch_seconds(keep_until))},
        }
        if len(result_json.encode()) <= INLINE_RESULT_LIMIT_BYTES:
            item["body"] = {"S": result_json}
        else:
            object_key = artifacts.result_key(tenant_id, job_id)
            self._s3.put_object(
                Bucket=self._bucket, Key=object_key, Body=result_json.encode(), ContentType="application/json"
            )
            item["objectKey"] = {"S": object_key}
        self._dynamodb.put_item(TableName=self._table, Item=item)

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
