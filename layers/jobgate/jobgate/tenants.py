"""Tenants, API keys and webhook secrets: generation and hashing (no AWS here)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import datetime

from pydantic import Field

from jobgate.domain.models import CamelModel, Timestamp

API_KEY_PREFIX = "jg_"
WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_SECRET_BYTES = 32  # Standard Webhooks: 24-64 random bytes
TENANT_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class WebhookSecret(CamelModel):
    secret: str
    created_at: Timestamp
    # During rotation the old secret keeps signing until then (WEBHOOKS.md: 24 h).
    retires_at: Timestamp | None = None


class Tenant(CamelModel):
    id: str = Field(pattern=TENANT_NAME_PATTERN.pattern)
    created_at: Timestamp
    webhook_secrets: list[WebhookSecret]


class InvalidTenantName(ValueError):
    pass


def validate_tenant_name(name: str) -> str:
    if not TENANT_NAME_PATTERN.match(name):
        raise InvalidTenantName(
            f"{name!r} is not a valid tenant name: use 2-63 lowercase letters, digits and '-', "
            "starting with a letter or digit."
        )
    return name


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    """A fast hash is right here: keys are 256-bit random, so there is nothing to brute-force."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_webhook_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(WEBHOOK_SECRET_BYTES)).decode()


def new_tenant(name: str, webhook_secret: str, now: datetime) -> Tenant:
    return Tenant(
        id=validate_tenant_name(name),
        created_at=now,
        webhook_secrets=[WebhookSecret(secret=webhook_secret, created_at=now)],
    )
