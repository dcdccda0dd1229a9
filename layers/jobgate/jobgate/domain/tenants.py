"""Tenants, their API keys and webhook secrets: the model, its rules, key generation and hashing."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from pydantic import Field

from jobgate.domain.models import CamelModel, Timestamp

API_KEY_PREFIX = "jg_"
# After a rotation the replaced secret keeps signing this long (docs/webhooks.md: 24 h), so
# receivers can switch to the new one without rejecting a single delivery.
SECRET_OVERLAP = timedelta(hours=24)
TENANT_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class WebhookSecret(CamelModel):
    secret: str
    created_at: Timestamp
    # Set when a rotation replaces it: it keeps signing until then (SECRET_OVERLAP later).
    retires_at: Timestamp | None = None

    def signs_at(self, now: datetime) -> bool:
        return self.retires_at is None or now < self.retires_at


class Tenant(CamelModel):
    """`version` guards every write, as for jobs: concurrent rotations cannot lose a secret."""

    id: str = Field(pattern=TENANT_NAME_PATTERN.pattern)
    created_at: Timestamp
    webhook_secrets: list[WebhookSecret]
    version: int = 1

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a webhook sent now is signed with, newest first."""
        signing = [s for s in self.webhook_secrets if s.signs_at(now)]
        return [s.secret for s in sorted(signing, key=lambda s: s.created_at, reverse=True)]


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


def new_tenant(name: str, webhook_secret: str, now: datetime) -> Tenant:
    return Tenant(
        id=validate_tenant_name(name),
        created_at=now,
        webhook_secrets=[WebhookSecret(secret=webhook_secret, created_at=now)],
    )


def rotate_webhook_secret(tenant: Tenant, new_secret: str, now: datetime) -> Tenant:
    """Add `new_secret`; the secrets it replaces keep signing for SECRET_OVERLAP, and those
    already retired are dropped. A secret retiring sooner (an earlier rotation) keeps its
    date: rotating again, e.g. after a leak, must never extend an old secret's life."""
    retires_at = now + SECRET_OVERLAP
    kept = [
        s.model_copy(update={"retires_at": retires_at if s.retires_at is None else min(s.retires_at, retires_at)})
        for s in tenant.webhook_secrets
        if s.signs_at(now)
    ]
    return tenant.model_copy(update={"webhook_secrets": [WebhookSecret(secret=new_secret, created_at=now), *kept]})
