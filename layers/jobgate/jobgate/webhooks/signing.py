"""Standard Webhooks v1 secrets and signatures (docs/webhooks.md). Stdlib only: it runs in Lambda on every attempt."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from secrets import token_bytes

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks: 24-64 random bytes
SIGNATURE_VERSION = "v1"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
CONTENT_TYPE = "application/json"
USER_AGENT = "jobgate-webhooks/1.0"


def new_webhook_secret() -> str:
    """`whsec_` and the base64 of fresh random bytes: the form `sign` (and every receiver) decodes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode()


def webhook_id(job_id: str, sequence: int) -> str:
    """`<job id>.<sequence>`: the same for an event on every retry and redelivery, so receivers
    can de-duplicate; unique because job ids are ULIDs (no dots) and sequences are per job."""
    return f"{job_id}.{sequence}"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}`, keyed by the secret's decoded bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    # The exact bytes sent: re-encoding a parsed body could change them and break the signature.
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature per secret, space-separated: during a rotation receivers holding either
    secret accept the request."""
    if not secrets:
        raise ValueError("a webhook needs at least one signing secret")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def webhook_headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header of one delivery attempt; call it per attempt with a fresh timestamp."""
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(secrets, msg_id, timestamp, body),
        "content-type": CONTENT_TYPE,
        "user-agent": USER_AGENT,
    }
