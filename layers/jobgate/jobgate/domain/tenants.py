"""Tenants, their API keys and webhook secrets: the model, its rules, key generation and hashing."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import Field

from jobgate.domain.models import CamelModel, Timestamp

API_KEY_PREFIX = "jg_"
# After a rotation the replaced secret keeps signing this long (docs/webhooks.md: 24 h), so
# receivers can switch to the new one without rejecting a single delivery.
SECRET_OVERLAP = timedelta(hours=24)
TENANT_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
# After `rotate-key` the replaced key keeps working this long unless told otherwise: a day lets
# a team roll the new key out through a normal deploy (and a timezone) without an outage, and
# is short enough that a key that leaked dies the same day (`--grace PT0S` or `revoke-key` at once).
API_KEY_GRACE = timedelta(hours=24)
# Keys that work at once: the newest plus those still in their grace. Each lifecycle write puts
# every key item in one transaction (100 items at most), and more than a few means rotations
# are piling up faster than clients switch: revoke some first.
MAX_WORKING_API_KEYS = 10
KEY_ID_PREFIX = "key_"
# Hex digits of the key's hash in its public id: 48 bits, unique within a tenant by far, and
# naming a key without revealing it (a hash of 256 random bits cannot be reversed).
KEY_ID_HEX_DIGITS = 12


class WebhookSecret(CamelModel):
    secret: str
    created_at: Timestamp
    # Set when a rotation replaces it: it keeps signing until then (SECRET_OVERLAP later).
    retires_at: Timestamp | None = None

    def signs_at(self, now: datetime) -> bool:
        return self.retires_at is None or now < self.retires_at


class ApiKey(CamelModel):
    """One API key of a tenant, as the tenant item records it: never the key, only its hash."""

    id: str
    key_hash: str
    created_at: Timestamp
    # Set by a rotation (the end of its grace) or a revocation (that moment): it is refused from then on.
    expires_at: Timestamp | None = None

    def works_at(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


class Tenant(CamelModel):
    """`version` guards every write, as for jobs: concurrent rotations cannot lose a secret."""

    id: str = Field(pattern=TENANT_NAME_PATTERN.pattern)
    created_at: Timestamp
    webhook_secrets: list[WebhookSecret]
    # None: a tenant stored before its keys were recorded here (its one key item is found by a scan).
    api_keys: list[ApiKey] | None = None
    # A disabled tenant's requests are refused (403); its jobs run on and their webhooks go out.
    disabled_at: Timestamp | None = None
    version: int = 1

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a webhook sent now is signed with, newest first."""
        signing = [s for s in self.webhook_secrets if s.signs_at(now)]
        return [s.secret for s in sorted(signing, key=lambda s: s.created_at, reverse=True)]

    @property
    def keys(self) -> list[ApiKey]:
        return self.api_keys or []


@dataclass(frozen=True)
class KeyGrant:
    """What one read of a key's item tells the API: whose key it is, until when it works, and
    whether its tenant may call at all (the tenant's state is copied onto each of its key items)."""

    tenant_id: str
    expires_at: datetime | None = None
    tenant_disabled: bool = False

    def expired_by(self, now: datetime) -> datetime | None:
        """When the key stopped working, if it has by `now`; else None."""
        return self.expires_at if self.expires_at is not None and now >= self.expires_at else None


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


def api_key_id(key_hash: str) -> str:
    return KEY_ID_PREFIX + key_hash[:KEY_ID_HEX_DIGITS]


def new_api_key_record(key_hash: str, now: datetime) -> ApiKey:
    return ApiKey(id=api_key_id(key_hash), key_hash=key_hash, created_at=now)


def new_tenant(name: str, webhook_secret: str, now: datetime, api_key_hash: str | None = None) -> Tenant:
    return Tenant(
        id=validate_tenant_name(name),
        created_at=now,
        webhook_secrets=[WebhookSecret(secret=webhook_secret, created_at=now)],
        api_keys=None if api_key_hash is None else [new_api_key_record(api_key_hash, now)],
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


class KeyLifecycleError(ValueError):
    """A key change the tenant's keys do not allow; the message says why and what to do."""


def rotate_api_key(tenant: Tenant, new_key_hash: str, now: datetime, grace: timedelta) -> Tenant:
    """Add a key; the working ones it replaces work on until `now + grace`, and keys that no longer
    work are dropped. As for secrets, a key expiring sooner keeps its date: a rotation never
    extends an old key's life."""
    if grace < timedelta(0):
        raise KeyLifecycleError("The grace period cannot be negative.")
    expires_at = now + grace
    retiring = [
        k.model_copy(update={"expires_at": expires_at if k.expires_at is None else min(k.expires_at, expires_at)})
        for k in tenant.keys
        if k.works_at(now)
    ]
    kept = [k for k in retiring if k.works_at(now)]  # with no grace, none
    if len(kept) + 1 > MAX_WORKING_API_KEYS:
        raise KeyLifecycleError(
            f"Tenant {tenant.id!r} already has {len(kept)} working keys (at most {MAX_WORKING_API_KEYS}); "
            "revoke the old ones first (jobgate tenants revoke-key --all-but-newest)."
        )
    new_key = new_api_key_record(new_key_hash, now)
    if any(k.id == new_key.id for k in kept):
        raise KeyLifecycleError("The new key's id collides with a working key's; rotate again.")
    return tenant.model_copy(update={"api_keys": [*kept, new_key]})


def revoke_api_keys(tenant: Tenant, now: datetime, *, key_id: str | None = None) -> tuple[Tenant, list[ApiKey]]:
    """Revoke one key by its id, or (no id) every working key but the newest. Revoked keys are
    dropped with those already expired. The tenant's last working key is never revoked: that
    would lock it out for good (disable the tenant instead, or rotate first)."""
    working = sorted((k for k in tenant.keys if k.works_at(now)), key=lambda k: k.created_at)
    if key_id is None:
        revoked = working[:-1]
    else:
        revoked = [k for k in working if k.id == key_id]
        if not revoked:
            known = ", ".join(k.id for k in working) or "none"
            raise KeyLifecycleError(f"Tenant {tenant.id!r} has no working key {key_id!r} (working keys: {known}).")
        if len(working) == 1:
            raise KeyLifecycleError(
                f"{key_id} is tenant {tenant.id!r}'s only working key; rotate-key first, or disable the tenant."
            )
    kept = [k for k in working if k not in revoked]
    return tenant.model_copy(update={"api_keys": kept}), revoked


def set_disabled(tenant: Tenant, disabled: bool, now: datetime) -> Tenant:
    """Disable or enable; an already disabled tenant keeps the date it was disabled at."""
    disabled_at = (tenant.disabled_at or now) if disabled else None
    return tenant.model_copy(update={"disabled_at": disabled_at})
