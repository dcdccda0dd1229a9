"""Vendor callback signatures: HMAC-SHA256 over the timestamp, the callback id and the raw body.

Header: ``X-Vendor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<callbackId>.<body>")>``.
Binding the callback id means a signed answer for one check cannot be replayed to another;
the timestamp bounds how old a replayed request can be.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

SIGNATURE_HEADER = "X-Vendor-Signature"
SIGNATURE_SCHEME = "v1"
# How far a signature's timestamp may be from our clock.
TOLERANCE_SECONDS = 300
_TIMESTAMP_PATTERN = re.compile(r"^[0-9]{1,12}$")
_DIGEST_PATTERN = re.compile(r"^[0-9a-fA-F]{1,128}$")
# The header's documented form (what _parse accepts, spelt for the OpenAPI document).
SIGNATURE_PATTERN = rf"^t=[0-9]{{1,12}},{SIGNATURE_SCHEME}=[0-9a-fA-F]{{1,128}}$"


class MalformedSignature(ValueError):
    """The header does not have the form `t=<unix seconds>,v1=<hex>`: a 400, not a wrong signature."""


def _digest(secret: str, timestamp: int, callback_id: str, body: bytes) -> str:
    message = f"{timestamp}.{callback_id}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, callback_id: str, body: bytes, timestamp: int | None = None) -> str:
    """The X-Vendor-Signature header value for this body sent to this callback id."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},{SIGNATURE_SCHEME}={_digest(secret, moment, callback_id, body)}"


def verify(secret: str, callback_id: str, body: bytes, header_value: str | None, now: float | None = None) -> bool:
    """True only for a header whose timestamp is recent and whose signature matches.

    Raises MalformedSignature for a header that is present but not of the documented form.
    """
    if not header_value:
        return False
    timestamp, signatures = _parse(header_value)
    if not secret:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = _digest(secret, timestamp, callback_id, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


def _parse(header_value: str) -> tuple[int, list[str]]:
    fields = [part.strip().partition("=") for part in header_value.split(",")]
    timestamps = [value for key, _, value in fields if key == "t"]
    signatures = [value for key, _, value in fields if key == SIGNATURE_SCHEME]
    if len(timestamps) != 1 or not _TIMESTAMP_PATTERN.match(timestamps[0]):
        raise MalformedSignature("t must be one timestamp in unix seconds (at most 12 ASCII digits)")
    if not signatures or not all(_DIGEST_PATTERN.match(signature) for signature in signatures):
        raise MalformedSignature(f"{SIGNATURE_SCHEME} must be a hex HMAC-SHA256 digest")
    return int(timestamps[0]), signatures
