"""jobgate.aws.is_backpressure: which AWS failures are a 503 (try later) and which are not."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)

from jobgate.aws import is_backpressure


def client_error(code: str, status: int = 400, **extra: Any) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}, **extra}
    return ClientError(response, "TransactWriteItems")


@pytest.mark.parametrize(
    "error",
    [
        client_error("ThrottlingException"),
        client_error("ProvisionedThroughputExceededException"),
        client_error("RequestLimitExceeded"),
        client_error("TransactionConflict"),
        client_error("InternalServerError", 500),
        client_error("SomethingNew", 503),
        client_error(
            "TransactionCanceledException",
            CancellationReasons=[{"Code": "None"}, {"Code": "TransactionConflict"}],
        ),
        ReadTimeoutError(endpoint_url="https://dynamodb"),
        ConnectTimeoutError(endpoint_url="https://dynamodb"),
        EndpointConnectionError(endpoint_url="https://dynamodb"),
    ],
)
def test_throttles_timeouts_and_5xx_are_backpressure(error: Exception) -> None:
    assert is_backpressure(error)


@pytest.mark.parametrize(
    "error",
    [
        client_error("ValidationException"),
        client_error("ConditionalCheckFailedException"),
        client_error("AccessDeniedException", 403),
        client_error("TransactionCanceledException", CancellationReasons=[{"Code": "ConditionalCheckFailed"}]),
        ParamValidationError(report="bad"),
        ValueError("not AWS"),
    ],
)
def test_mistakes_and_refusals_are_not(error: Exception) -> None:
    assert not is_backpressure(error)
