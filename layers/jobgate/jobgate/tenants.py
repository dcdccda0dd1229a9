"""Registering tenants and rotating their webhook secrets: the one way an API key and a
webhook secret come to exist (`jobgate tenants` and the local stack's seeding call these)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jobgate.domain.tenants import hash_api_key, new_api_key, new_tenant, rotate_webhook_secret
from jobgate.store.optimistic import CONFLICT, Conflict, retry_on_conflict
from jobgate.store.tenants import TenantStore
from jobgate.timeutil import utc_now
from jobgate.webhooks.signing import new_webhook_secret

# Each lost race means another rotation just succeeded; a few retries cover any real contention.
ROTATION_ATTEMPTS = 5


@dataclass(frozen=True)
class TenantCredentials:
    tenant_id: str
    api_key: str
    webhook_secret: str


def register_tenant(
    store: TenantStore, name: str, *, api_key: str | None = None, webhook_secret: str | None = None
) -> TenantCredentials:
    """Create a tenant; fixed credentials may be given (seeding), else fresh random ones are made."""
    key = api_key or new_api_key()
    secret = webhook_secret or new_webhook_secret()
    tenant = new_tenant(name, secret, utc_now())
    store.create(tenant, hash_api_key(key))
    return TenantCredentials(tenant_id=tenant.id, api_key=key, webhook_secret=secret)


class TenantNotFound(Exception):
    pass


class RotationContended(Exception):
    """Other rotations kept winning the race; nothing was changed by this one."""


@dataclass(frozen=True)
class RotatedSecret:
    tenant_id: str
    webhook_secret: str
    # Until then webhooks also carry a signature made with the replaced secret(s).
    previous_signs_until: datetime


def rotate_secret(store: TenantStore, name: str) -> RotatedSecret:
    """Give the tenant a new webhook secret; concurrent rotations are redone, never lost."""
    secret = new_webhook_secret()

    def attempt() -> RotatedSecret | Conflict:
        tenant = store.get(name)
        if tenant is None:
            raise TenantNotFound(name)
        now = utc_now()
        saved = store.save_secrets(rotate_webhook_secret(tenant, secret, now), expected=tenant)
        if saved is None:
            return CONFLICT
        retiring = [s.retires_at for s in saved.webhook_secrets if s.retires_at is not None]
        return RotatedSecret(tenant_id=saved.id, webhook_secret=secret, previous_signs_until=max(retiring, default=now))

    return retry_on_conflict(attempt, gave_up=lambda _: RotationContended(name), max_attempts=ROTATION_ATTEMPTS)
