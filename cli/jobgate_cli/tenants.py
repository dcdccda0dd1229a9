"""Registering tenants: the one way an API key and a webhook secret come to exist."""

from __future__ import annotations

from dataclasses import dataclass

from jobgate.store.tenants import TenantStore
from jobgate.tenants import hash_api_key, new_api_key, new_tenant, new_webhook_secret
from jobgate.timeutil import utc_now


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
