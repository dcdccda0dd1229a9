"""DeliveryStore: every webhook attempt, and whether a callback said 410 Gone, per job.

Items live in the job's partition (store/keys.py), so purging a job removes them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict
from pydantic.alias_generators import to_camel

from jobgate.lazy import LazyModel
from jobgate.store import keys
from jobgate.store.events import StoredEvent, event_from_item

# The event's item format moved to store/events.py; its readers still find it here.
__all__ = ["DeliveryAttempt", "DeliveryStore", "StoredEvent", "event_from_item"]

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class DeliveryAttempt(LazyModel):
    """One attempt to deliver one event, as GET /jobs/{id}/deliveries shows it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    sequence: int
    event_type: str
    webhook_id: str
    attempt: int
    attempted_at: str
    url: str
    status_code: int | None = None
    latency_ms: int | None = None
    response_body: str | None = None
    error: str | None = None
    # delivered | retrying | failed (schedule exhausted) | gone (410) | refused (SSRF rules)
    outcome: str
    next_attempt_at: str | None = None


class DeliveryStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def event(self, job_id: str, sequence: int) -> StoredEvent | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=keys.job_item_key(job_id, keys.event_sort_key(sequence)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return None if item is None else event_from_item(dict(item))

    def record(self, job_id: str, attempt: DeliveryAttempt, ttl: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                **keys.job_item_key(job_id, keys.delivery_sort_key(attempt.sequence, attempt.attempt)),
                "body": {"S": attempt.model_dump_json(by_alias=True)},
                "ttl": {"N": str(ttl)},
            },
        )

    def attempts(self, job_id: str) -> list[DeliveryAttempt]:
        found: list[DeliveryAttempt] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.job_partition(job_id)},
                ":prefix": {"S": keys.DELIVERY_PREFIX},
            },
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**query)
            found.extend(DeliveryAttempt.model_validate_json(i["body"]["S"]) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def mark_gone(self, job_id: str, ttl: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={**keys.job_item_key(job_id, keys.CALLBACK_GONE_SORT_KEY), "ttl": {"N": str(ttl)}},
        )

    def is_gone(self, job_id: str) -> bool:
        response = self._client.get_item(
            TableName=self._table,
            Key=keys.job_item_key(job_id, keys.CALLBACK_GONE_SORT_KEY),
            ConsistentRead=True,
        )
        return "Item" in response
