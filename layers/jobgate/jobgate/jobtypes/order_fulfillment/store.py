"""Stock in the StockTable: all-or-nothing reservations with conditional decrements.

Items (one table, key `pk`):
- `SKU#<sku>`: `available` (number) - what can still be reserved.
- `RESERVATION#<job id>`: the lines one order reserved and its `state` (reserved | confirmed).

A reservation is one TransactWriteItems: the reservation record (only if absent, so a
retried task never reserves twice) plus, per line, `available = available - qty` under
`attribute_exists(pk) AND available >= qty`. Either every line is reserved or none is, and
DynamoDB serialises transactions on an item, so concurrent orders can never drive
`available` below zero. Releasing deletes the reservation record in the same transaction
that gives the quantities back, so a stock release happens at most once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from jobgate.jobtypes.order_fulfillment.errors import OutOfStock, StockContention, StockReleaseFailed
from jobgate.store.transactions import transact_once

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SKU_PREFIX = "SKU#"
RESERVATION_PREFIX = "RESERVATION#"


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


def stock_key(sku: str) -> dict[str, Any]:
    return {"pk": {"S": SKU_PREFIX + sku}}


def reservation_key(job_id: str) -> dict[str, Any]:
    return {"pk": {"S": RESERVATION_PREFIX + job_id}}


class StockStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- stock levels (seeding and reading; the tests and docs use these too) ---------------

    def set_available(self, sku: str, available: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={**stock_key(sku), "sku": {"S": sku}, "available": {"N": str(available)}},
        )

    def available(self, sku: str) -> int | None:
        item = self._client.get_item(TableName=self._table, Key=stock_key(sku), ConsistentRead=True).get("Item")
        return int(item["available"]["N"]) if item and "available" in item else None

    # --- the saga's operations ----------------------------------------------------------

    def reserve(self, job_id: str, lines: Sequence[Line]) -> bool:
        """Reserve every line or none; False if this job had already reserved (a retry)."""
        record = {
            **reservation_key(job_id),
            "state": {"S": "reserved"},
            "lines": {"L": [_line_item(line) for line in lines]},
        }
        actions: list[Any] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": record,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            *(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": stock_key(line.sku),
                        "UpdateExpression": "SET available = available - :qty",
                        "ConditionExpression": "attribute_exists(pk) AND available >= :qty",
                        "ExpressionAttributeValues": {":qty": {"N": str(line.quantity)}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
                for line in lines
            ),
        ]
        try:
            transact_once(self._client, actions)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons: list[dict[str, Any]] = list(error.response.get("CancellationReasons") or [])  # type: ignore[arg-type]
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False  # this job's reservation exists: an earlier attempt made it
            shortages = [
                _shortage(line, reason.get("Item"))
                for line, reason in zip(lines, reasons[1:], strict=False)
                if reason.get("Code") == "ConditionalCheckFailed"
            ]
            if shortages:
                raise OutOfStock("Not enough stock: " + "; ".join(shortages) + ".") from None
            raise StockContention(f"The stock reservation collided with another order ({reasons}).") from None
        return True

    def confirm(self, job_id: str) -> None:
        """Mark the reservation as sold (the stock stays taken)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=reservation_key(job_id),
                UpdateExpression="SET #state = :confirmed",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":confirmed": {"S": "confirmed"}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise OutOfStock(f"The stock reservation of {job_id} is gone.") from None
            raise

    def release(self, job_id: str) -> list[Line] | None:
        """Give the reserved quantities back, once; None if nothing is (still) reserved."""
        item = self._client.get_item(TableName=self._table, Key=reservation_key(job_id), ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            return None
        lines = [
            Line(sku=entry["M"]["sku"]["S"], quantity=int(entry["M"]["quantity"]["N"]))
            for entry in item.get("lines", {}).get("L", [])
        ]
        actions: list[Any] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": reservation_key(job_id),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            *(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": stock_key(line.sku),
                        "UpdateExpression": "SET available = available + :qty",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":qty": {"N": str(line.quantity)}},
                    }
                }
                for line in lines
            ),
        ]
        try:
            transact_once(self._client, actions)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise StockReleaseFailed(f"Releasing the stock failed: {error}") from None
            reasons: list[dict[str, Any]] = list(error.response.get("CancellationReasons") or [])  # type: ignore[arg-type]
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return None  # released meanwhile by another attempt
            raise StockReleaseFailed(f"Releasing the stock failed ({reasons}).") from None
        return lines


def _line_item(line: Line) -> dict[str, Any]:
    return {"M": {"sku": {"S": line.sku}, "quantity": {"N": str(line.quantity)}}}


def _shortage(line: Line, old_item: dict[str, Any] | None) -> str:
    if not old_item:
        return f"{line.sku} is not stocked"
    available = old_item.get("available", {}).get("N", "0")
    return f"{line.sku}: {line.quantity} requested, {available} available"
