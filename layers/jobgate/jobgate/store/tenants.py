"""TenantStore: tenants, their webhook secrets and API keys (keys stored only as SHA-256 hashes).

Each API key has an item of its own (APIKEY#<hash>) that holds all the API needs to decide a
request in one read: the tenant, the key's expiry and whether the tenant is disabled. The
tenant item lists its keys; both change together, in one transaction conditional on the
tenant's version.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from jobgate.domain.tenants import ApiKey, KeyGrant, Tenant
from jobgate.store import keys
from jobgate.store.transactions import transact_once
from jobgate.timeutil import to_rfc3339

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef


class TenantExists(Exception):
    pass


def _tenant_item(tenant: Tenant) -> dict[str, AttributeValueTypeDef]:
    return {
        "pk": {"S": keys.tenant_partition(tenant.id)},
        # Outside the document too, so writes can be conditional on it.
        "version": {"N": str(tenant.version)},
        "doc": {"S": tenant.model_dump_json(by_alias=True)},
    }


def _key_item(tenant: Tenant, key: ApiKey) -> dict[str, AttributeValueTypeDef]:
    item: dict[str, AttributeValueTypeDef] = {
        "pk": {"S": keys.api_key_partition(key.key_hash)},
        "tenantId": {"S": tenant.id},
        "keyId": {"S": key.id},
        "tenantDisabled": {"BOOL": tenant.disabled_at is not None},
    }
    if key.expires_at is not None:
        item["expiresAt"] = {"S": to_rfc3339(key.expires_at)}
    return item


def _version_condition(expected: Tenant) -> tuple[str, dict[str, AttributeValueTypeDef]]:
    """The condition that the stored tenant is still `expected`, and its values."""
    condition = "version = :expected"
    if expected.version == 1:
        condition += " OR attribute_not_exists(version)"  # items written before versions were stored
    return f"attribute_exists(pk) AND ({condition})", {":expected": {"N": str(expected.version)}}


class TenantStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create(self, tenant: Tenant) -> None:
        """The tenant and the item of its one key in one transaction, refusing a name already taken."""
        (key,) = tenant.keys
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
                            "Item": _key_item(tenant, key),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ],
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                raise TenantExists(tenant.id) from error
            raise

    def key_grant(self, api_key_hash: str) -> KeyGrant | None:
        """The API's one read per request (cached by the API: gate.KeyCache). Items written
        before keys expired or tenants were disabled lack those attributes: they work."""
        response = self._client.get_item(TableName=self._table, Key={"pk": {"S": keys.api_key_partition(api_key_hash)}})
        item = response.get("Item")
        if item is None:
            return None
        expires_at = item.get("expiresAt", {}).get("S")
        return KeyGrant(
            tenant_id=item["tenantId"]["S"],
            expires_at=None if expires_at is None else datetime.fromisoformat(expires_at),
            tenant_disabled=item.get("tenantDisabled", {}).get("BOOL", False),
        )

    def get(self, tenant_id: str) -> Tenant | None:
        response = self._client.get_item(TableName=self._table, Key={"pk": {"S": keys.tenant_partition(tenant_id)}})
        item = response.get("Item")
        return None if item is None else Tenant.model_validate_json(item["doc"]["S"])

    def list_tenants(self) -> list[Tenant]:
        """Every tenant, by name: a scan, for the operator's `jobgate tenants list` (never the API)."""
        items = self._scan("begins_with(pk, :prefix)", {":prefix": {"S": keys.TENANT_PREFIX}})
        return sorted((Tenant.model_validate_json(item["doc"]["S"]) for item in items), key=lambda t: t.id)

    def key_hashes_of(self, tenant_id: str) -> list[str]:
        """The hashes of the key items naming this tenant: a scan, only for a tenant stored
        before its keys were listed on it (Tenant.api_keys None), once."""
        items = self._scan(
            "begins_with(pk, :prefix) AND tenantId = :tenant",
            {":prefix": {"S": keys.API_KEY_PREFIX}, ":tenant": {"S": tenant_id}},
        )
        return sorted(keys.key_hash_of_partition(item["pk"]["S"]) for item in items)

    def _scan(self, condition: str, values: dict[str, AttributeValueTypeDef]) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": condition,
            "ExpressionAttributeValues": values,
        }
        while True:
            page = self._client.scan(**request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save_secrets(self, tenant: Tenant, expected: Tenant) -> Tenant | None:
        """Store `tenant`'s webhook secrets if the stored tenant is still `expected` (its version);
        None if it changed meanwhile (another rotation): read it again and redo the change."""
        updated = expected.model_copy(
            update={"webhook_secrets": tenant.webhook_secrets, "version": expected.version + 1}
        )
        condition, values = _version_condition(expected)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_tenant_item(updated),
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return updated

    def save_keys(self, tenant: Tenant, expected: Tenant) -> Tenant | None:
        """Store `tenant`'s keys and disabled state if the stored tenant is still `expected`: the
        tenant item, every key item it lists (each carries the tenant's state) and the deletion
        of the items of keys it no longer lists, in one transaction. None if the tenant changed
        meanwhile: read it again and redo the change."""
        updated = expected.model_copy(
            update={"api_keys": tenant.keys, "disabled_at": tenant.disabled_at, "version": expected.version + 1}
        )
        condition, values = _version_condition(expected)
        listed = {k.key_hash for k in updated.keys}
        tenant_write: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self._table,
                "Item": _tenant_item(updated),
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }
        key_writes: list[TransactWriteItemTypeDef] = [
            {"Put": {"TableName": self._table, "Item": _key_item(updated, k)}} for k in updated.keys
        ]
        key_deletes: list[TransactWriteItemTypeDef] = [
            {"Delete": {"TableName": self._table, "Key": {"pk": {"S": keys.api_key_partition(k.key_hash)}}}}
            for k in expected.keys
            if k.key_hash not in listed
        ]
        writes = [tenant_write, *key_writes, *key_deletes]
        try:
            transact_once(self._client, writes)
        except ClientError as error:
            # The tenant's condition failed, or another transaction held one of the items.
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                return None
            raise
        return updated
