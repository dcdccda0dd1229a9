"""`jobgate tenants rotate-secret`: a new secret, the old one signing for 24 h, no rotation lost."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import boto3
import pytest

from jobgate import wiring
from jobgate.domain.tenants import Tenant, new_tenant, rotate_webhook_secret
from jobgate.store.tenants import TenantStore
from jobgate.tenants import TenantCredentials, rotate_secret
from jobgate.timeutil import utc_now
from jobgate.webhooks.signing import new_webhook_secret
from jobgate_cli.main import main
from tests.conftest import TENANTS_TABLE


def rotate(capsys: pytest.CaptureFixture[str], name: str = "acme") -> dict[str, str]:
    assert main(["tenants", "rotate-secret", name, "--table", TENANTS_TABLE, "--json"]) == 0
    printed: dict[str, str] = json.loads(capsys.readouterr().out)
    return printed


def stored(name: str = "acme") -> Tenant:
    tenant = wiring.tenant_store().get(name)
    assert tenant is not None
    return tenant


def test_both_secrets_sign_until_the_printed_time(
    tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]
) -> None:
    rotated = rotate(capsys)
    new, until = rotated["webhookSecret"], datetime.fromisoformat(rotated["previousSecretSignsUntil"])
    assert rotated["tenant"] == "acme"
    assert new.startswith("whsec_")
    assert new != tenant.webhook_secret
    assert stored().signing_secrets(utc_now()) == [new, tenant.webhook_secret]
    assert stored().signing_secrets(until) == [new]
    assert stored().signing_secrets(until - timedelta(seconds=1)) == [new, tenant.webhook_secret]


def test_the_human_output_says_until_when_the_old_secret_signs(
    tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenants", "rotate-secret", "acme", "--table", TENANTS_TABLE]) == 0
    out = capsys.readouterr().out
    assert f"Webhook secret:  {stored().signing_secrets(utc_now())[0]}" in out
    assert "also signed with the previous secret until 20" in out


def test_rotating_twice_keeps_every_secret_that_still_signs(
    tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]
) -> None:
    second = rotate(capsys)["webhookSecret"]
    third = rotate(capsys)["webhookSecret"]
    assert stored().signing_secrets(utc_now()) == [third, second, tenant.webhook_secret]


class RacingStore(TenantStore):
    """Another rotation lands between this one's read and its write, once."""

    def __init__(self, inner: TenantStore, competing_secret: str) -> None:
        self._inner = inner
        self._competing_secret: str | None = competing_secret

    def get(self, tenant_id: str) -> Tenant | None:
        tenant = self._inner.get(tenant_id)
        if tenant is not None and self._competing_secret is not None:
            other = rotate_webhook_secret(tenant, self._competing_secret, utc_now())
            assert self._inner.save_secrets(other, expected=tenant) is not None
            self._competing_secret = None
        return tenant

    def save_secrets(self, tenant: Tenant, expected: Tenant) -> Tenant | None:
        return self._inner.save_secrets(tenant, expected)


def test_concurrent_rotations_lose_no_secret(tenant: TenantCredentials) -> None:
    competing = "whsec_" + "A" * 44
    rotated = rotate_secret(RacingStore(wiring.tenant_store(), competing), "acme")
    assert stored().signing_secrets(utc_now()) == [rotated.webhook_secret, competing, tenant.webhook_secret]


def test_a_write_based_on_a_stale_read_is_refused(tenant: TenantCredentials) -> None:
    store = wiring.tenant_store()
    before = stored()
    assert store.save_secrets(rotate_webhook_secret(before, "whsec_" + "A" * 44, utc_now()), expected=before)
    assert store.save_secrets(rotate_webhook_secret(before, "whsec_" + "B" * 44, utc_now()), expected=before) is None
    assert "whsec_" + "A" * 44 in stored().signing_secrets(utc_now())


def test_a_tenant_stored_before_versions_were_kept_can_be_rotated(
    aws_backend: None, capsys: pytest.CaptureFixture[str]
) -> None:
    original = new_webhook_secret()
    legacy_doc = new_tenant("initech", original, utc_now()).model_dump(mode="json", by_alias=True, exclude={"version"})
    boto3.client("dynamodb").put_item(
        TableName=TENANTS_TABLE, Item={"pk": {"S": "TENANT#initech"}, "doc": {"S": json.dumps(legacy_doc)}}
    )
    new = rotate(capsys, "initech")["webhookSecret"]
    assert stored("initech").signing_secrets(utc_now()) == [new, original]


def test_an_unknown_tenant_is_reported(aws_backend: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenants", "rotate-secret", "nobody", "--table", TENANTS_TABLE]) == 2
    assert "no tenant named 'nobody'" in capsys.readouterr().err


def test_help_says_the_old_secret_keeps_signing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tenants", "rotate-secret", "--help"])
    assert exited.value.code == 0
    assert "old secret for 24 hours" in " ".join(capsys.readouterr().out.split())
