"""Create the template's tables and bucket in an AWS endpoint (moto in tests and the local stack).

Definitions come from template.yaml itself, so tests and the local stack cannot drift
from what deploys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client

# CloudFormation properties that CreateTable accepts under the same name.
_CREATE_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")


def create_table_request(properties: Mapping[str, Any], table_name: str) -> dict[str, Any]:
    """Translate an AWS::DynamoDB::Table's Properties into a CreateTable request."""
    request: dict[str, Any] = {"TableName": table_name}
    request.update({key: properties[key] for key in _CREATE_TABLE_KEYS if key in properties})
    stream = properties.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return request


def create_table_from_template(
    client: DynamoDBClient, template: Mapping[str, Any], logical_id: str, table_name: str
) -> None:
    properties = template["Resources"][logical_id]["Properties"]
    client.create_table(**create_table_request(properties, table_name))
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )


def create_bucket(client: S3Client, bucket_name: str) -> None:
    client.create_bucket(Bucket=bucket_name)
