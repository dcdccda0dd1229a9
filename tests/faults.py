"""Inject AWS failures for real into a botocore client (moto answers behind it).

The hooks run on botocore's `before-send` event, inside its retry loop: an error raised
there is what botocore sees from the network, so its own retries (and our handling of
what they lead to) are exercised as on AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ReadTimeoutError
from moto.core.models import botocore_stubber


@contextmanager
def commit_then_time_out(client: Any, operation: str, times: int = 1) -> Iterator[list[int]]:
    """The first `times` calls of `operation` reach moto (and commit), then time out on the client.

    Yields a one-item list counting the calls that were cut off this way.
    """
    cut_off = [0]

    def send(request: Any, event_name: str, **kwargs: Any) -> None:
        if cut_off[0] >= times:
            return  # moto's own handler answers
        cut_off[0] += 1
        botocore_stubber(event_name=event_name, request=request, **kwargs)
        raise ReadTimeoutError(endpoint_url=request.url)

    with _before_send(client, operation, send):
        yield cut_off


@contextmanager
def answer_error(client: Any, operation: str, code: str, status: int = 400, times: int = 1_000) -> Iterator[list[int]]:
    """The first `times` calls of `operation` answer an AWS error `code` without reaching moto."""
    answered = [0]

    def send(request: Any, **kwargs: Any) -> AWSResponse | None:
        if answered[0] >= times:
            return None
        answered[0] += 1
        _keep_from_moto(request)
        body = f'{{"__type":"com.amazonaws#{code}","message":"injected {code}"}}'.encode()
        headers = HTTPHeaders()
        headers["x-amzn-ErrorType"] = code
        headers["Content-Type"] = "application/x-amz-json-1.0"
        return AWSResponse(request.url, status, headers, _Raw(body))

    with _before_send(client, operation, send):
        yield answered


@contextmanager
def time_out(client: Any, operation: str, times: int = 1_000) -> Iterator[list[int]]:
    """The first `times` calls of `operation` never get an answer (botocore's read timeout)."""
    timed_out = [0]

    def send(request: Any, **_: Any) -> AWSResponse | None:
        if timed_out[0] >= times:
            return None
        timed_out[0] += 1
        raise ReadTimeoutError(endpoint_url=request.url)

    with _before_send(client, operation, send):
        yield timed_out


@contextmanager
def _before_send(client: Any, operation: str, send: Callable[..., AWSResponse | None]) -> Iterator[None]:
    event = f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register_first(event, send)
    try:
        yield
    finally:
        client.meta.events.unregister(event, send)


def _keep_from_moto(request: Any) -> None:
    """botocore asks every before-send handler; moto's, asked after ours, must not act too.

    moto answers only URLs of its services; the answer we return is the one botocore takes.
    """
    request.url = "https://fault-injected.invalid/"


class _Raw:
    """The minimal raw HTTP body botocore reads from an AWSResponse."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body
