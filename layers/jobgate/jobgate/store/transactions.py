"""One TransactWriteItems that botocore may send more than once, committed at most once.

botocore retries a transaction whose answer did not arrive (a read timeout, a 5xx, a
throttle). Without a token the retry of a write that did commit fails its own condition
(`attribute_not_exists(pk)`), and the caller takes its own success for a failure. A
`ClientRequestToken` makes DynamoDB (and DynamoDB Local) answer such a retry with success for
10 minutes. moto ignores the token, so the callers also recognise their own committed write
(a write token in the item, read back after a condition failure).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def new_write_token() -> str:
    """A token for one logical write: the ClientRequestToken and the item's `writeToken`."""
    return str(uuid.uuid4())


def transact_once(client: DynamoDBClient, items: Sequence[TransactWriteItemTypeDef], token: str | None = None) -> None:
    client.transact_write_items(TransactItems=list(items), ClientRequestToken=token or new_write_token())
