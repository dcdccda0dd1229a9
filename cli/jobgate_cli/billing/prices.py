"""The one price table: AWS list prices, us-east-1, on-demand, first pricing tier, no free tier.

Each price names its page and the date the figure was taken from it. The meter multiplies
these by the units it counts (jobgate_cli.billing.units); nothing else holds a price.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

PRICES_AS_OF: Final = "2026-12-01"


class Unit(StrEnum):
    """A billable unit, named as the price pages name it."""

    API_REQUEST = "HTTP API request (per 512 KB)"
    LAMBDA_REQUEST = "Lambda request"
    LAMBDA_GB_SECOND = "Lambda GB-second (arm64)"
    SFN_STANDARD_TRANSITION = "Step Functions Standard state transition"
    SFN_EXPRESS_REQUEST = "Step Functions Express request"
    SFN_EXPRESS_GB_SECOND = "Step Functions Express GB-second"
    DYNAMODB_WRU = "DynamoDB write request unit (on-demand)"
    DYNAMODB_RRU = "DynamoDB read request unit (on-demand)"
    SQS_REQUEST = "SQS standard request (per 64 KB)"
    S3_WRITE_REQUEST = "S3 PUT, COPY, POST or LIST request"
    S3_READ_REQUEST = "S3 GET or other request"
    LOG_BYTE = "CloudWatch Logs byte ingested (standard)"

    @property
    def service(self) -> str:
        return _SERVICES[self]


_SERVICES: Final[dict[Unit, str]] = {
    Unit.API_REQUEST: "API Gateway",
    Unit.LAMBDA_REQUEST: "Lambda",
    Unit.LAMBDA_GB_SECOND: "Lambda",
    Unit.SFN_STANDARD_TRANSITION: "Step Functions",
    Unit.SFN_EXPRESS_REQUEST: "Step Functions",
    Unit.SFN_EXPRESS_GB_SECOND: "Step Functions",
    Unit.DYNAMODB_WRU: "DynamoDB",
    Unit.DYNAMODB_RRU: "DynamoDB",
    Unit.SQS_REQUEST: "SQS",
    Unit.S3_WRITE_REQUEST: "S3",
    Unit.S3_READ_REQUEST: "S3",
    Unit.LOG_BYTE: "CloudWatch Logs",
}


@dataclass(frozen=True)
class Price:
    dollars_per_unit: float
    source: str  # the price page
    as_of: str  # when the figure was read from it


_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_SFN = "https://aws.amazon.com/step-functions/pricing/"
_DYNAMODB = "https://aws.amazon.com/dynamodb/pricing/on-demand/ (50 % cut of 2024-11-01)"
_S3 = "https://aws.amazon.com/s3/pricing/ (S3 Standard)"

PRICES: Final[dict[Unit, Price]] = {
    Unit.API_REQUEST: Price(1.00 / 1e6, "https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs)", PRICES_AS_OF),
    Unit.LAMBDA_REQUEST: Price(0.20 / 1e6, _LAMBDA, PRICES_AS_OF),
    Unit.LAMBDA_GB_SECOND: Price(0.0000133334, _LAMBDA + " (Arm, first 7.5 billion GB-s a month)", PRICES_AS_OF),
    Unit.SFN_STANDARD_TRANSITION: Price(0.025 / 1e3, _SFN, PRICES_AS_OF),
    Unit.SFN_EXPRESS_REQUEST: Price(1.00 / 1e6, _SFN, PRICES_AS_OF),
    Unit.SFN_EXPRESS_GB_SECOND: Price(0.06 / 3600, _SFN + " ($0.06 per GB-hour, first 1,000 GB-hours)", PRICES_AS_OF),
    Unit.DYNAMODB_WRU: Price(0.625 / 1e6, _DYNAMODB, PRICES_AS_OF),
    Unit.DYNAMODB_RRU: Price(0.125 / 1e6, _DYNAMODB, PRICES_AS_OF),
    Unit.SQS_REQUEST: Price(0.40 / 1e6, "https://aws.amazon.com/sqs/pricing/ (standard queue)", PRICES_AS_OF),
    Unit.S3_WRITE_REQUEST: Price(0.005 / 1e3, _S3, PRICES_AS_OF),
    Unit.S3_READ_REQUEST: Price(0.0004 / 1e3, _S3, PRICES_AS_OF),
    Unit.LOG_BYTE: Price(
        0.50 / 2**30, "https://aws.amazon.com/cloudwatch/pricing/ (Logs, standard, $0.50 per GB)", PRICES_AS_OF
    ),
}
