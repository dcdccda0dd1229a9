"""Registering tenants, rotating their webhook secrets and API keys, revoking keys, disabling
tenants: the one way an API key and a webhook secret come to exist or end (`jobgate tenants`
and the local stack's seeding call these)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobgate.domain.tenants import (
    API_KEY_GRACE,
    ApiKey,
    Tenant,
    api_key_id,
    hash_api_key,
    new_api_key,
    new_tenant,
    revoke_api_keys,
    rotate_api_key,
    rotate_webhook_secret,
    set_disabled,
)
from jobgate.store.optimistic import CONFLICT, Conflict, retry_on_conflict
from jobgate.store.tenants import TenantStore
from jobgate.timeutil import utc_now
from jobgate.webhooks.signing import new_webhook_secret

Clock = Callable[[], datetime]

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
    tenant = new_tenant(name, secret, utc_now(), api_key_hash=hash_api_key(key))
    store.create(tenant)
    return TenantCredentials(tenant_id=tenant.id, api_key=key, webhook_secret=secret)


class TenantNotFound(Exception):
    pass


class RotationContended(Exception):
    """Other changes to the tenant (rotations, revocations) kept winning the race; nothing was
    changed by this one."""


@dataclass(frozen=True)
class RotatedSecret:
    tenant_id: str
    webhook_secret: str
    # Until then webhooks also carry a signature made with the replaced secret(s).
    previous_signs_until: datetime


def rotate_secret(store: TenantStore, name: str) -> RotatedSecret:
    """Give the tenant a new webhook secret; concurrent rotations are redone, never lost."""
    secret = new_webhook_secret()
    saved = _change_tenant(
        name,
        lambda tenant, now: rotate_webhook_secret(tenant, secret, now),
        save=store.save_secrets,
        read=store.get,
    )
    retiring = [s.retires_at for s in saved.webhook_secrets if s.retires_at is not None]
    return RotatedSecret(
        tenant_id=saved.id, webhook_secret=secret, previous_signs_until=max(retiring, default=utc_now())
    )


@dataclass(frozen=True)
class RotatedKey:
    tenant_id: str
    api_key: str
    key_id: str
    # The keys it replaced, each working until its expiresAt (none if there was no grace).
    previous_keys: list[ApiKey]


def rotate_key(
    store: TenantStore, name: str, *, grace: timedelta = API_KEY_GRACE, clock: Clock = utc_now
) -> RotatedKey:
    """Give the tenant a new API key; the working ones keep working for `grace`. Concurrent
    changes to the tenant are redone, never lost."""
    api_key = new_api_key()
    key_hash = hash_api_key(api_key)

    def change(tenant: Tenant, now: datetime) -> Tenant:
        return rotate_api_key(tenant, key_hash, now, grace)

    saved = _change_keys(store, name, change, clock)
    return RotatedKey(
        tenant_id=saved.id,
        api_key=api_key,
        key_id=api_key_id(key_hash),
        previous_keys=[k for k in saved.keys if k.key_hash != key_hash],
    )


def revoke_keys(store: TenantStore, name: str, *, key_id: str | None, clock: Clock = utc_now) -> list[ApiKey]:
    """Revoke the key `key_id` at once, or (None) every working key but the newest; the revoked ones."""
    revoked: list[ApiKey] = []

    def change(tenant: Tenant, now: datetime) -> Tenant:
        changed, revoked_now = revoke_api_keys(tenant, now, key_id=key_id)
        revoked[:] = revoked_now  # this attempt's: an attempt lost to a conflict is redone
        return changed

    _change_keys(store, name, change, clock)
    return revoked


def set_tenant_disabled(store: TenantStore, name: str, *, disabled: bool, clock: Clock = utc_now) -> Tenant:
    """Disable (its requests get 403; its jobs run on and their webhooks go out) or enable a tenant."""
    return _change_keys(store, name, lambda tenant, now: set_disabled(tenant, disabled, now), clock)


def list_tenants(store: TenantStore) -> list[Tenant]:
    return [_with_keys_listed(store, tenant) for tenant in store.list_tenants()]


def _change_keys(store: TenantStore, name: str, change: Callable[[Tenant, datetime], Tenant], clock: Clock) -> Tenant:
    def read(tenant_name: str) -> Tenant | None:
        stored = store.get(tenant_name)
        return None if stored is None else _with_keys_listed(store, stored)

    return _change_tenant(name, change, save=store.save_keys, read=read, clock=clock)


def _change_tenant(
    name: str,
    change: Callable[[Tenant, datetime], Tenant],
    *,
    save: Callable[[Tenant, Tenant], Tenant | None],
    read: Callable[[str], Tenant | None],
    clock: Clock = utc_now,
) -> Tenant:
    """Read, change and save the tenant under its version; a change lost to a concurrent one is redone."""

    def attempt() -> Tenant | Conflict:
        tenant = read(name)
        if tenant is None:
            raise TenantNotFound(name)
        saved = save(change(tenant, clock()), tenant)  # None: the stored tenant is no longer `tenant`
        return CONFLICT if saved is None else saved

    return retry_on_conflict(attempt, gave_up=lambda _: RotationContended(name), max_attempts=ROTATION_ATTEMPTS)


def _with_keys_listed(store: TenantStore, tenant: Tenant) -> Tenant:
    """A tenant stored before its keys were listed on it: its key items, found by a scan. The
    first key change stores the list, so this scan runs once per such tenant."""
    if tenant.api_keys is not None:
        return tenant
    found = [
        ApiKey(id=api_key_id(key_hash), key_hash=key_hash, created_at=tenant.created_at)
        for key_hash in store.key_hashes_of(tenant.id)
    ]
    return tenant.model_copy(update={"api_keys": found})
