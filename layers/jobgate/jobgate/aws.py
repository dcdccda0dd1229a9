"""boto3 clients, created once per process (cheap, and reused across warm invocations)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_stepfunctions.client import SFNClient

# Fail fast inside a 29 s API budget instead of retrying for minutes.
_CLIENT_CONFIG = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})


@cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_CLIENT_CONFIG)


@cache
def stepfunctions() -> SFNClient:
    return boto3.client("stepfunctions", config=_CLIENT_CONFIG)


@cache
def s3() -> S3Client:
    # SigV4 so presigned URLs work in every region.
    return boto3.client("s3", config=_CLIENT_CONFIG.merge(Config(signature_version="s3v4")))


@cache
def sqs() -> SQSClient:
    return boto3.client("sqs", config=_CLIENT_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests start a fresh moto backend per test)."""
    dynamodb.cache_clear()
    stepfunctions.cache_clear()
    s3.cache_clear()
    sqs.cache_clear()
