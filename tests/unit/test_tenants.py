from __future__ import annotations

import base64

import pytest

from jobgate.domain.tenants import InvalidTenantName, hash_api_key, new_api_key, validate_tenant_name
from jobgate.webhooks.signing import new_webhook_secret


def test_webhook_secrets_follow_standard_webhooks() -> None:
    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"))) <= 64


def test_api_keys_are_unique_and_only_their_hash_is_kept() -> None:
    first, second = new_api_key(), new_api_key()
    assert first != second
    assert hash_api_key(first) != first
    assert len(hash_api_key(first)) == 64
    assert hash_api_key(first) == hash_api_key(first)


@pytest.mark.parametrize("name", ["", "a", "Acme", "acme corp", "-acme", "x" * 64])
def test_bad_tenant_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidTenantName):
        validate_tenant_name(name)
