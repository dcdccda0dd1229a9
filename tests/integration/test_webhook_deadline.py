"""A webhook attempt's deadline bounds the whole exchange: receivers that trickle bytes are cut off.

requests' read timeout is per socket read, so a receiver sending a byte more often than that
would hold an attempt forever; these receivers do exactly that, on 127.0.0.1.
"""

from __future__ import annotations

import pytest

from jobgate.config import Settings
from jobgate.webhooks.delivery import AttemptResponse, send_over_http
from tests.e2e.receivers import TricklingReceiver, trickling


@pytest.fixture
def settings() -> Settings:
    return Settings.from_environment().model_copy(
        update={
            "webhook_allowed_networks": "127.0.0.1/32",
            "webhook_connect_timeout_seconds": 1.0,
            "webhook_attempt_timeout_seconds": 1.0,
        }
    )


def attempt(receiver: TricklingReceiver, settings: Settings) -> AttemptResponse:
    return send_over_http(receiver.url, b"{}", {"Content-Type": "application/json"}, settings)


@pytest.mark.parametrize(
    ("head", "trickle"),
    [
        pytest.param(b"", b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 1000, id="status-line"),
        # Cut off mid-headers, http.client would take the end of the stream for their end: a 200.
        pytest.param(b"HTTP/1.1 200 OK\r\n", b"X-Padding: " + b"a" * 1000, id="headers"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"x", id="body-after-a-2xx"),
    ],
)
def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline(
    head: bytes, trickle: bytes, settings: Settings
) -> None:
    # A byte every 0.1 s: far more often than the read timeout, so each read gets its byte in time.
    with trickling(head, trickle, interval=0.1) as receiver:
        response = attempt(receiver, settings)
        # Returned while the receiver was still sending: the attempt ended it, not the receiver.
        assert not receiver.released.is_set()
        assert receiver.was_cut_off.wait(timeout=10)
    assert (response.status_code, response.error) == (None, "timed out: no complete answer within 1 s")
