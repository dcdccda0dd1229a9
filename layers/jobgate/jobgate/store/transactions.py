"""One TransactWriteItems that botocore may send more than once, committed at most once.

botocore retries a transaction whose answer did not arrive (a read timeout, a 5xx, a
throttle). DynamoDB (and DynamoDB Local) answer a retry carrying the same
`ClientRequestToken` with success for 10 minutes. botocore fills the token in by itself
when none is given; we pass our own so that it is also the item's `writeToken`: moto
ignores the token (a retry of a committed write fails its own `attribute_not_exists(pk)`),
and so do retries later than 10 minutes, so after a condition failure the callers read the
item back and recognise their own committed write by that token.
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
