"""What every task function's handler shares: an AWS dependency that stays busy is retried, not fatal.

botocore retries a throttle or a timeout a few times within the call (aws.py); one that
outlasts those retries is a condition that passes, not a failed job. Raised as
`TransientStoreError`, it is what every task state of every state machine retries by name
(statemachines/*.asl.json, the second retrier), with its own backoff; any other error ends the
task as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from jobgate import aws
from jobgate.domain.errors import TransientStoreError


def retried_when_aws_is_busy[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """Wrap a task handler: AWS backpressure (aws.is_backpressure) leaves it as TransientStoreError."""

    @functools.wraps(handler)
    def handle(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except (ClientError, BotoCoreError) as error:
            if not aws.is_backpressure(error):
                raise
            raise TransientStoreError(f"AWS did not answer in time, retry later: {error}") from error

    return handle  # type: ignore[return-value]
