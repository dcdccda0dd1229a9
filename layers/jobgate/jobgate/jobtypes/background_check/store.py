"""Vendor callbacks waiting in the jobs table: callback id -> the task token to resume.

The task token never leaves AWS: a vendor is given ``<API>/vendor-callbacks/<callbackId>``
and the token is kept here under that random id. A callback is answered at most once:
the first answer takes the token out of the record with a conditional update, so a
duplicate finds it gone and changes nothing.

partition VENDOR-CALLBACK#<callbackId>, sort VENDOR-CALLBACK: jobId, vendor, taskToken
(until answered), answeredAt (once answered), ttl (the record's expiry, epoch seconds).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from jobgate.jobtypes.background_check.models import Vendor
from jobgate.store import keys
from jobgate.timeutil import to_epoch_seconds, to_rfc3339, utc_now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Its items' kind in the jobs table (store/keys.py builds the key).
CALLBACK_ITEM_KIND = "VENDOR-CALLBACK"
CALLBACK_ID_PREFIX = "vcb_"
# A late or repeated callback is told "no longer waiting" (410) rather than "unknown" (404)
# for this long after the check's timeout; then the record expires.
KEEP_AFTER_TIMEOUT = timedelta(days=7)


class UnknownCallback(LookupError):
    """No callback with this id (never issued, or expired)."""


class CallbackAlreadyAnswered(Exception):
    """The vendor already answered this callback; the workflow was resumed then."""


@dataclass(frozen=True)
class WaitingCallback:
    callback_id: str
    job_id: str
    vendor: Vendor
    task_token: str
    answered_at: str


def new_callback_id() -> str:
    return CALLBACK_ID_PREFIX + secrets.token_urlsafe(24)


def _key(callback_id: str) -> dict[str, Any]:
    return keys.job_type_item_key(CALLBACK_ITEM_KIND, callback_id)


class VendorCallbackStore:
    def __init__(self, client: DynamoDBClient, table_name: str, clock: Callable[[], datetime] = utc_now) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock

    def register(self, job_id: str, vendor: Vendor, task_token: str, timeout_seconds: int) -> str:
        """Keep the task token under a new random callback id, and return the id."""
        callback_id = new_callback_id()
        expires = self._clock() + timedelta(seconds=timeout_seconds) + KEEP_AFTER_TIMEOUT
        self._client.put_item(
            TableName=self._table,
            Item={
                **_key(callback_id),
                "jobId": {"S": job_id},
                "vendor": {"S": vendor.value},
                "taskToken": {"S": task_token},
                "createdAt": {"S": to_rfc3339(self._clock())},
                "ttl": {"N": str(to_epoch_seconds(expires))},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        return callback_id

    def claim(self, callback_id: str) -> WaitingCallback:
        """Take the task token out of a waiting callback: only one caller ever gets it."""
        answered_at = to_rfc3339(self._clock())
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(callback_id),
                UpdateExpression="SET answeredAt = :now REMOVE taskToken",
                ConditionExpression="attribute_exists(taskToken) AND #ttl > :epoch",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":now": {"S": answered_at},
                    ":epoch": {"N": str(to_epoch_seconds(self._clock()))},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            if self._exists(callback_id):
                raise CallbackAlreadyAnswered(callback_id) from None
            raise UnknownCallback(callback_id) from None
        item = response["Attributes"]
        return WaitingCallback(
            callback_id=callback_id,
            job_id=item["jobId"]["S"],
            vendor=Vendor(item["vendor"]["S"]),
            task_token=item["taskToken"]["S"],
            answered_at=answered_at,
        )

    def release(self, claimed: WaitingCallback) -> None:
        """Put the token back after a resume that failed for a passing reason, so the vendor can retry."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(claimed.callback_id),
                UpdateExpression="SET taskToken = :token REMOVE answeredAt",
                ConditionExpression="answeredAt = :answered",
                ExpressionAttributeValues={
                    ":token": {"S": claimed.task_token},
                    ":answered": {"S": claimed.answered_at},
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _exists(self, callback_id: str) -> bool:
        item = self._client.get_item(TableName=self._table, Key=_key(callback_id), ConsistentRead=True).get("Item")
        return item is not None and int(item["ttl"]["N"]) > to_epoch_seconds(self._clock())
