"""TenantStore: tenants, their webhook secrets and API keys (keys stored only as SHA-256 hashes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from jobgate.domain.tenants import Tenant
from jobgate.store import keys
from jobgate.store.transactions import transact_once

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


class TenantExists(Exception):
    pass


def _tenant_item(tenant: Tenant) -> dict[str, AttributeValueTypeDef]:
    return {
        "pk": {"S": keys.tenant_partition(tenant.id)},
        # Outside the document too, so writes can be conditional on it.
        "version": {"N": str(tenant.version)},
        "doc": {"S": tenant.model_dump_json(by_alias=True)},
    }


class TenantStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create(self, tenant: Tenant, api_key_hash: str) -> None:
        """The tenant and its key item in one transaction, refusing a name already taken."""
        try:
            transact_once(
                self._client,
                [
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _tenant_item(tenant),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {"pk": {"S": keys.api_key_partition(api_key_hash)}, "tenantId": {"S": tenant.id}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ],
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                raise TenantExists(tenant.id) from error
            raise

    def tenant_for_key_hash(self, api_key_hash: str) -> str | None:
        response = self._client.get_item(TableName=self._table, Key={"pk": {"S": keys.api_key_partition(api_key_hash)}})
        item = response.get("Item")
        return None if item is None else item["tenantId"]["S"]

    def get(self, tenant_id: str) -> Tenant | None:
        response = self._client.get_item(TableName=self._table, Key={"pk": {"S": keys.tenant_partition(tenant_id)}})
        item = response.get("Item")
        return None if item is None else Tenant.model_validate_json(item["doc"]["S"])

    def save_secrets(self, tenant: Tenant, expected: Tenant) -> Tenant | None:
        """Store `tenant`'s webhook secrets if the stored tenant is still `expected` (its version);
        None if it changed meanwhile (another rotation): read it again and redo the change."""
        updated = expected.model_copy(
            update={"webhook_secrets": tenant.webhook_secrets, "version": expected.version + 1}
        )
        condition = "version = :expected"
        if expected.version == 1:
            condition += " OR attribute_not_exists(version)"  # items written before versions were stored
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_tenant_item(updated),
                ConditionExpression=f"attribute_exists(pk) AND ({condition})",
                ExpressionAttributeValues={":expected": {"N": str(expected.version)}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return updated
