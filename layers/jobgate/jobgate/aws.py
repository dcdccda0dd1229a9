"""boto3 clients, created once per process and reused across warm invocations."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_secretsmanager.client import SecretsManagerClient
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_stepfunctions.client import SFNClient

# The one place for AWS call timeouts and retries, sized against the shortest budget, the
# API's 29 s (API Gateway's limit and ApiFunction's Timeout): one call takes at most
# 3 attempts x (1 s connect + 2 s read) + standard-mode backoff (< 1 s + < 2 s) = 12 s, so a
# request whose dependency is down answers 503 (docs/api.md) after its first such call, well
# inside 29 s; the task functions (Timeout 30 s and more) have the same margin. DynamoDB,
# Step Functions and SQS answer in milliseconds; 2 s without a byte is an outage or overload.
_CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 3, "mode": "standard"})

# Error codes meaning "overloaded or unavailable now, try again later", not "you asked wrong".
BACKPRESSURE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflict",
        "TransactionInProgressException",
        "LimitExceededException",
        "SlowDown",
        "RequestThrottled",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


def is_backpressure(error: BaseException) -> bool:
    """True when AWS throttled, timed out or was unreachable even after botocore's retries."""
    if isinstance(error, ConnectTimeoutError | ReadTimeoutError | EndpointConnectionError | ConnectionClosedError):
        return True
    if not isinstance(error, ClientError):
        return False
    if error.response.get("Error", {}).get("Code") in BACKPRESSURE_CODES:
        return True
    if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
        return True
    # A transaction cancelled only because another transaction held its items.
    reasons = error.response.get("CancellationReasons") or []
    return (
        bool(reasons)
        and all(r.get("Code") in {"None", "TransactionConflict"} for r in reasons)
        and any(r.get("Code") == "TransactionConflict" for r in reasons)
    )


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


@cache
def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=_CLIENT_CONFIG)


@cache
def secrets() -> SecretsProvider:
    """Secrets Manager values, cached by Powertools in this process (each `get` says how long)."""
    # Imported here: only the function that reads a secret pays for Powertools' parameters.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=secretsmanager())


def reset_clients() -> None:
    """Forget cached clients (tests start a fresh moto backend per test)."""
    dynamodb.cache_clear()
    stepfunctions.cache_clear()
    s3.cache_clear()
    sqs.cache_clear()
    secretsmanager.cache_clear()
    secrets.cache_clear()
