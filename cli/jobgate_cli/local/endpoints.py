"""Where each AWS service of the local stack lives, in the form boto3 reads it.

DynamoDB and DynamoDB Streams are AWS's DynamoDB Local; everything else (Step Functions,
SQS, S3, Lambda, IAM) is moto. boto3 and the AWS CLI take a service's endpoint from
`AWS_ENDPOINT_URL_<SERVICE>` before `AWS_ENDPOINT_URL`, so functions need no code of their own
to reach the right one: they get these variables, as a user's shell would.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, Final

import boto3

from jobgate_cli.sam_template import LOCAL_REGION

DYNAMODB_SERVICES: Final = frozenset({"dynamodb", "dynamodbstreams"})
# DynamoDB Local keeps one database for every credential (-sharedDb); moto accepts any.
LOCAL_CREDENTIALS: Final = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass(frozen=True)
class LocalEndpoints:
    aws: str
    dynamodb: str

    def url_for(self, service: str) -> str:
        return self.dynamodb if service in DYNAMODB_SERVICES else self.aws

    def environment(self) -> dict[str, str]:
        """The variables that point boto3 (and `aws`) at these endpoints."""
        return {
            "AWS_ENDPOINT_URL": self.aws,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb,
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": self.dynamodb,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            **LOCAL_CREDENTIALS,
        }

    def client(self, service: str, session: boto3.session.Session | None = None) -> Any:
        return (session or boto3.session.Session()).client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.url_for(service),
            region_name=LOCAL_REGION,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


def refuse_if_taken(host: str, port: int) -> None:
    """OSError (EADDRINUSE) now, instead of a server that fails where no one sees it."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
