from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from jobgate.domain.tenants import (
    API_KEY_GRACE,
    MAX_WORKING_API_KEYS,
    InvalidTenantName,
    KeyGrant,
    KeyLifecycleError,
    Tenant,
    api_key_id,
    hash_api_key,
    new_api_key,
    new_tenant,
    revoke_api_keys,
    rotate_api_key,
    set_disabled,
    validate_tenant_name,
)
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


# ---------------------------------------------------------------- API key lifecycle
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def a_tenant(*key_hashes: str) -> Tenant:
    tenant = new_tenant("acme", new_webhook_secret(), NOW - timedelta(days=30), api_key_hash=key_hashes[0])
    for offset, key_hash in enumerate(key_hashes[1:], start=1):
        tenant = rotate_api_key(tenant, key_hash, NOW - timedelta(days=30) + timedelta(minutes=offset), API_KEY_GRACE)
    return tenant


def working_ids(tenant: Tenant, at: datetime) -> list[str]:
    return [k.id for k in tenant.keys if k.works_at(at)]


def test_a_key_id_names_a_key_without_revealing_it() -> None:
    key = new_api_key()
    key_id = api_key_id(hash_api_key(key))
    assert key_id.startswith("key_")
    assert key_id.removeprefix("key_") in hash_api_key(key)
    assert key_id.removeprefix("key_") not in key


def test_a_rotated_key_works_until_the_grace_ends() -> None:
    rotated = rotate_api_key(a_tenant("a" * 64), "b" * 64, NOW, timedelta(hours=2))
    assert working_ids(rotated, NOW + timedelta(hours=2) - timedelta(seconds=1)) == [
        "key_aaaaaaaaaaaa",
        "key_bbbbbbbbbbbb",
    ]
    assert working_ids(rotated, NOW + timedelta(hours=2)) == ["key_bbbbbbbbbbbb"]


def test_rotating_again_never_extends_an_old_keys_life() -> None:
    first = rotate_api_key(a_tenant("a" * 64), "b" * 64, NOW, timedelta(hours=1))
    second = rotate_api_key(first, "c" * 64, NOW + timedelta(minutes=10), timedelta(hours=24))
    expiries = {k.id: k.expires_at for k in second.keys}
    assert expiries["key_aaaaaaaaaaaa"] == NOW + timedelta(hours=1)
    assert expiries["key_bbbbbbbbbbbb"] == NOW + timedelta(minutes=10, hours=24)
    assert expiries["key_cccccccccccc"] is None


def test_no_grace_retires_the_old_keys_at_once_and_expired_keys_are_dropped() -> None:
    assert [k.id for k in rotate_api_key(a_tenant("a" * 64), "b" * 64, NOW, timedelta(0)).keys] == ["key_bbbbbbbbbbbb"]
    later = rotate_api_key(a_tenant("a" * 64, "b" * 64), "c" * 64, NOW, API_KEY_GRACE)  # a's grace ended long ago
    assert [k.id for k in later.keys] == ["key_bbbbbbbbbbbb", "key_cccccccccccc"]


def test_rotations_cannot_pile_up_past_the_limit() -> None:
    tenant = a_tenant("0" * 64)
    for number in range(1, MAX_WORKING_API_KEYS):
        tenant = rotate_api_key(tenant, f"{number:x}" * 64, NOW, API_KEY_GRACE)
    with pytest.raises(KeyLifecycleError, match="revoke the old ones first"):
        rotate_api_key(tenant, "f" * 64, NOW, API_KEY_GRACE)
    with pytest.raises(KeyLifecycleError, match="negative"):
        rotate_api_key(a_tenant("0" * 64), "f" * 64, NOW, timedelta(seconds=-1))


def test_revoking_by_id_or_all_but_the_newest() -> None:
    tenant = rotate_api_key(
        rotate_api_key(a_tenant("a" * 64), "b" * 64, NOW, API_KEY_GRACE), "c" * 64, NOW, API_KEY_GRACE
    )
    one, revoked = revoke_api_keys(tenant, NOW, key_id="key_bbbbbbbbbbbb")
    assert [k.id for k in revoked] == ["key_bbbbbbbbbbbb"]
    assert [k.id for k in one.keys] == ["key_aaaaaaaaaaaa", "key_cccccccccccc"]
    newest, revoked = revoke_api_keys(tenant, NOW, key_id=None)
    assert [k.id for k in revoked] == ["key_aaaaaaaaaaaa", "key_bbbbbbbbbbbb"]
    assert [k.id for k in newest.keys] == ["key_cccccccccccc"]


def test_the_last_working_key_and_unknown_ids_are_refused() -> None:
    with pytest.raises(KeyLifecycleError, match="only working key"):
        revoke_api_keys(a_tenant("a" * 64), NOW, key_id="key_aaaaaaaaaaaa")
    with pytest.raises(KeyLifecycleError, match=r"no working key 'key_nope' \(working keys: key_aaaaaaaaaaaa\)"):
        revoke_api_keys(a_tenant("a" * 64), NOW, key_id="key_nope")
    tenant, revoked = revoke_api_keys(a_tenant("a" * 64), NOW, key_id=None)
    assert revoked == []
    assert [k.id for k in tenant.keys] == ["key_aaaaaaaaaaaa"]


def test_disabling_twice_keeps_the_first_date() -> None:
    disabled = set_disabled(a_tenant("a" * 64), True, NOW)
    assert set_disabled(disabled, True, NOW + timedelta(hours=1)).disabled_at == NOW
    assert set_disabled(disabled, False, NOW).disabled_at is None


def test_a_grant_is_expired_from_its_expiry_on() -> None:
    grant = KeyGrant(tenant_id="acme", expires_at=NOW)
    assert grant.expired_by(NOW - timedelta(microseconds=1)) is None
    assert grant.expired_by(NOW) == NOW
    assert KeyGrant(tenant_id="acme").expired_by(NOW) is None
