"""JOBGATE_TENANTS="name:apikey:whsec_...,...": fixed tenants for tests and scripts."""

from __future__ import annotations

from dataclasses import dataclass


class InvalidTenantSeed(ValueError):
    pass


@dataclass(frozen=True)
class TenantSeed:
    name: str
    api_key: str
    webhook_secret: str


def parse_tenant_seeds(text: str) -> list[TenantSeed]:
    seeds: list[TenantSeed] = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        parts = entry.split(":")
        if len(parts) != 3 or not all(parts):
            raise InvalidTenantSeed(
                f"{entry!r}: each JOBGATE_TENANTS entry is name:apikey:whsec_secret (comma-separated)"
            )
        name, api_key, secret = parts
        if not secret.startswith("whsec_"):
            raise InvalidTenantSeed(f"{entry!r}: the webhook secret must start with whsec_")
        seeds.append(TenantSeed(name=name, api_key=api_key, webhook_secret=secret))
    return seeds
