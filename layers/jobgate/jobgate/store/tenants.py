"""TenantStore: tenants and their API keys (stored only as SHA-256 hashes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from jobgate.tenants import Tenant

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class TenantExists(Exception):
    pass


def _key_item_pk(key_hash: str) -> str:
    return f"APIKEY#{key_hash}"


def _tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


class TenantStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create(self, tenant: Tenant, api_key_hash: str) -> None:
        """The tenant and its key item in one transaction, refusing a name already taken."""
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": {"S": _tenant_pk(tenant.id)},
                                "doc": {"S": tenant.model_dump_json(by_alias=True)},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {"pk": {"S": _key_item_pk(api_key_hash)}, "tenantId": {"S": tenant.id}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                raise TenantExists(tenant.id) from error
            raise

    def tenant_for_key_hash(self, api_key_hash: str) -> str | None:
        response = self._client.get_item(TableName=self._table, Key={"pk": {"S": _key_item_pk(api_key_hash)}})
        item = response.get("Item")
        return None if item is None else item["tenantId"]["S"]

    def get(self, tenant_id: str) -> Tenant | None:
        response = self._client.get_item(TableName=self._table, Key={"pk": {"S": _tenant_pk(tenant_id)}})
        item = response.get("Item")
        return None if item is None else Tenant.model_validate_json(item["doc"]["S"])
