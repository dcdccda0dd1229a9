"""API key lifecycle: `jobgate tenants rotate-key / revoke-key / list / disable / enable`, and
the API's decisions on them: an expired or revoked key gets 401, a disabled tenant 403."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.event_handler import Response

from jobgate import wiring
from jobgate.domain.tenants import KeyGrant, Tenant, hash_api_key, new_api_key, new_tenant, rotate_api_key
from jobgate.store.tenants import TenantStore
from jobgate.tenants import TenantCredentials, rotate_key
from jobgate.timeutil import utc_now
from jobgate.webhooks.signing import new_webhook_secret
from jobgate_api.gate import Admitted, KeyCache, admit
from jobgate_cli.main import main
from tests.api import ApiClient, ApiResponse
from tests.conftest import TENANTS_TABLE
from tests.workflow import run_to_success

TABLE = ["--table", TENANTS_TABLE]


def tenants(capsys: pytest.CaptureFixture[str], *arguments: str) -> Any:
    """Run `jobgate tenants ... --json`; its printed JSON."""
    capsys.readouterr()  # not what the test's own code printed before (an in-process submit's EMF line)
    assert main(["tenants", *arguments, *TABLE, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def stored(name: str = "acme") -> Tenant:
    tenant = wiring.tenant_store().get(name)
    assert tenant is not None
    return tenant


def jobs_answer(api_key: str) -> ApiResponse:
    return ApiClient(api_key).get("/jobs")


# ---------------------------------------------------------------- rotate-key


def test_after_a_rotation_both_keys_work_and_the_new_one_is_printed_once(
    tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]
) -> None:
    rotated = tenants(capsys, "rotate-key", "acme")
    (previous,) = rotated["previousKeys"]
    assert rotated["apiKey"].startswith("jg_")
    assert rotated["apiKey"] != tenant.api_key
    assert rotated["keyId"].startswith("key_")
    assert previous["id"] != rotated["keyId"]
    until = datetime.fromisoformat(previous["expiresAt"])
    assert timedelta(hours=23, minutes=59) < until - utc_now() <= timedelta(hours=24)
    assert jobs_answer(rotated["apiKey"]).status == 200
    assert jobs_answer(tenant.api_key).status == 200
    assert [k.key_hash for k in stored().keys] == [hash_api_key(tenant.api_key), hash_api_key(rotated["apiKey"])]


def test_an_old_key_whose_grace_is_over_gets_401(tenant: TenantCredentials) -> None:
    # The rotation happened 2 h ago with 1 h of grace: the expiry is data, no clock is faked.
    rotated = rotate_key(
        wiring.tenant_store(), "acme", grace=timedelta(hours=1), clock=lambda: utc_now() - timedelta(hours=2)
    )
    refused = jobs_answer(tenant.api_key)
    assert refused.status == 401
    assert refused.header("WWW-Authenticate") == 'Bearer realm="jobgate", error="invalid_token"'
    assert refused.json["type"] == "urn:jobgate:problem:unauthorized"
    assert "expired at" in refused.json["detail"]
    assert jobs_answer(rotated.api_key).status == 200


def test_the_gate_admits_an_old_key_until_its_grace_ends_and_refuses_it_from_then_on(
    tenant: TenantCredentials,
) -> None:
    rotated_at = utc_now()
    rotate_key(wiring.tenant_store(), "acme", grace=timedelta(hours=24), clock=lambda: rotated_at)
    grace_end = rotated_at + timedelta(hours=24)
    event = ApiClient(tenant.api_key).event("GET", "/jobs")

    def answer_at(moment: datetime) -> Admitted | Response[str]:
        return admit(event, KeyCache(wiring.tenant_store().key_grant, clock=lambda: moment))

    assert isinstance(answer_at(grace_end - timedelta(milliseconds=1)), Admitted)
    refusal = answer_at(grace_end)
    assert isinstance(refusal, Response)
    assert refusal.status_code == 401


def test_no_grace_refuses_the_old_key_at_once(tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]) -> None:
    rotated = tenants(capsys, "rotate-key", "acme", "--grace", "PT0S")
    assert rotated["previousKeys"] == []
    assert jobs_answer(tenant.api_key).status == 401
    assert jobs_answer(rotated["apiKey"]).status == 200


def test_the_human_output_shows_the_key_once_and_until_when_the_old_one_works(
    tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenants", "rotate-key", "acme", *TABLE, "--grace", "PT2H"]) == 0
    out = capsys.readouterr().out
    new_key = next(k for k in stored().keys if k.expires_at is None)
    old_key = next(k for k in stored().keys if k.expires_at is not None)
    assert "API key:         jg_" in out
    assert f"Key id:          {new_key.id}" in out
    assert f"The previous key {old_key.id} keeps working until 20" in out
    assert "cannot show it again" in out


def test_a_bad_grace_is_refused(tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenants", "rotate-key", "acme", *TABLE, "--grace", "1 day"]) == 2
    assert "--grace: '1 day' is not an ISO 8601 duration" in capsys.readouterr().err
    assert len(stored().keys) == 1


class RacingStore(TenantStore):
    """Another rotation lands between this change's read and its write, `times` times."""

    def __init__(self, inner: TenantStore, times: int = 1) -> None:
        self._inner = inner
        self._times = times
        self.competing_keys: list[str] = []

    def get(self, tenant_id: str) -> Tenant | None:
        tenant = self._inner.get(tenant_id)
        if tenant is not None and self._times:
            self._times -= 1
            key = new_api_key()
            other = rotate_api_key(tenant, hash_api_key(key), utc_now(), timedelta(hours=24))
            assert self._inner.save_keys(other, expected=tenant) is not None
            self.competing_keys.append(key)
        return tenant

    def key_hashes_of(self, tenant_id: str) -> list[str]:
        return self._inner.key_hashes_of(tenant_id)

    def save_keys(self, tenant: Tenant, expected: Tenant) -> Tenant | None:
        return self._inner.save_keys(tenant, expected)


def test_concurrent_rotations_lose_no_key(tenant: TenantCredentials) -> None:
    racing = RacingStore(wiring.tenant_store())
    rotated = rotate_key(racing, "acme")
    (competing,) = racing.competing_keys
    assert {k.key_hash for k in stored().keys} == {
        hash_api_key(k) for k in (tenant.api_key, competing, rotated.api_key)
    }
    for key in (tenant.api_key, competing, rotated.api_key):
        assert jobs_answer(key).status == 200


def test_a_key_change_that_keeps_losing_the_race_changes_nothing_and_says_so(
    tenant: TenantCredentials, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    always_losing = RacingStore(wiring.tenant_store(), times=1000)
    monkeypatch.setattr("jobgate_cli.tenants._tenant_store", lambda args: always_losing)
    monkeypatch.setattr("jobgate.store.optimistic.time.sleep", lambda seconds: None)
    assert main(["tenants", "rotate-key", "acme", *TABLE]) == 2
    assert "being changed by someone else right now; try again" in capsys.readouterr().err
    # Only the competing rotations' keys were added.
    assert {k.key_hash for k in stored().keys} - {hash_api_key(k) for k in always_losing.competing_keys} == {
        hash_api_key(tenant.api_key)
    }


def test_a_tenant_stored_before_keys_were_listed_can_rotate_its_key(
    aws_backend: None, capsys: pytest.CaptureFixture[str]
) -> None:
    old_key = new_api_key()
    legacy = new_tenant("initech", new_webhook_secret(), utc_now()).model_dump(
        mode="json", by_alias=True, exclude={"version", "api_keys", "disabled_at"}
    )
    dynamodb = boto3.client("dynamodb")
    dynamodb.put_item(TableName=TENANTS_TABLE, Item={"pk": {"S": "TENANT#initech"}, "doc": {"S": json.dumps(legacy)}})
    dynamodb.put_item(
        TableName=TENANTS_TABLE,
        Item={"pk": {"S": f"APIKEY#{hash_api_key(old_key)}"}, "tenantId": {"S": "initech"}},
    )
    # The API reads such an item as a key that works (its first use here would be cached).
    assert wiring.tenant_store().key_grant(hash_api_key(old_key)) == KeyGrant(tenant_id="initech")
    rotated = tenants(capsys, "rotate-key", "initech", "--grace", "PT0S")
    assert jobs_answer(old_key).status == 401
    assert jobs_answer(rotated["apiKey"]).status == 200
    assert [k["id"] for k in tenants(capsys, "list")["tenants"][0]["keys"]] == [rotated["keyId"]]


# ---------------------------------------------------------------- revoke-key


def test_revoking_the_old_key_during_its_grace_refuses_it_at_once(
    tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]
) -> None:
    rotated = tenants(capsys, "rotate-key", "acme")
    old_id = rotated["previousKeys"][0]["id"]
    assert tenants(capsys, "revoke-key", "acme", "--key-id", old_id) == {"tenant": "acme", "revoked": [old_id]}
    refused = jobs_answer(tenant.api_key)
    assert refused.status == 401
    assert refused.json["detail"] == "The API key is not valid."
    assert jobs_answer(rotated["apiKey"]).status == 200


def test_all_but_the_newest_key_can_be_revoked_in_one_go(
    tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]
) -> None:
    second = tenants(capsys, "rotate-key", "acme")["apiKey"]
    third = tenants(capsys, "rotate-key", "acme")
    assert main(["tenants", "revoke-key", "acme", "--all-but-newest", *TABLE]) == 0
    assert "refused from now on" in capsys.readouterr().out
    assert [jobs_answer(k).status for k in (tenant.api_key, second, third["apiKey"])] == [401, 401, 200]
    assert [k.id for k in stored().keys] == [third["keyId"]]


def test_the_last_working_key_and_an_unknown_key_id_are_refused(
    tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]
) -> None:
    (only,) = stored().keys
    assert main(["tenants", "revoke-key", "acme", "--key-id", only.id, *TABLE]) == 2
    assert "only working key; rotate-key first, or disable the tenant" in capsys.readouterr().err
    assert main(["tenants", "revoke-key", "acme", "--key-id", "key_000000000000", *TABLE]) == 2
    assert f"no working key 'key_000000000000' (working keys: {only.id})" in capsys.readouterr().err
    assert jobs_answer(tenant.api_key).status == 200


def test_revoke_key_needs_to_be_told_which(tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tenants", "revoke-key", "acme", *TABLE])
    assert exited.value.code == 2
    assert "one of the arguments --key-id --all-but-newest is required" in capsys.readouterr().err


# ---------------------------------------------------------------- list


def test_list_shows_status_and_keys_but_never_a_secret(
    tenant: TenantCredentials, other_tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]
) -> None:
    rotated = tenants(capsys, "rotate-key", "acme")
    tenants(capsys, "disable", other_tenant.tenant_id)
    assert main(["tenants", "list", *TABLE, "--json"]) == 0
    out = capsys.readouterr().out
    listed = {t["name"]: t for t in json.loads(out)["tenants"]}
    assert list(listed) == sorted([tenant.tenant_id, other_tenant.tenant_id])
    assert listed["acme"]["status"] == "enabled"
    assert listed["acme"]["disabledAt"] is None
    assert [(k["id"], k["state"]) for k in listed["acme"]["keys"]] == [
        (rotated["previousKeys"][0]["id"], "expiring"),
        (rotated["keyId"], "active"),
    ]
    assert listed[other_tenant.tenant_id]["status"] == "disabled"
    for secret in (tenant.api_key, rotated["apiKey"], hash_api_key(tenant.api_key), tenant.webhook_secret):
        assert secret not in out


def test_the_human_list_is_a_table(tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenants", "list", *TABLE]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["TENANT", "STATUS", "KEY", "ID", "KEY", "STATE", "CREATED", "EXPIRES"]
    assert row.split()[:4] == ["acme", "enabled", stored().keys[0].id, "active"]
    assert tenant.api_key not in row


# ---------------------------------------------------------------- disable / enable


def test_a_disabled_tenant_gets_403_and_its_running_job_still_finishes(
    tenant: TenantCredentials, other_tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]
) -> None:
    job_input = {"steps": 2, "stepSeconds": 0}
    job_id = ApiClient(other_tenant.api_key).submit(job_input).json["id"]
    # A key not used yet in this process: the one used above is in the API's key cache (60 s).
    unused_key = tenants(capsys, "rotate-key", other_tenant.tenant_id)["apiKey"]
    assert tenants(capsys, "disable", other_tenant.tenant_id) == {
        "tenant": other_tenant.tenant_id,
        "status": "disabled",
    }
    assert jobs_answer(new_api_key()).status == 401  # an unknown key is still a 401, not a 403
    assert jobs_answer(tenant.api_key).status == 200  # another tenant is not affected
    refused = ApiClient(unused_key).get(f"/jobs/{job_id}")
    assert refused.status == 403
    assert refused.header("Content-Type") == "application/problem+json"
    assert refused.json["type"] == "urn:jobgate:problem:tenant-disabled"
    assert refused.json["title"] == "Tenant disabled"
    assert refused.header("WWW-Authenticate") is None
    assert run_to_success(job_id, job_input)["done"] is True
    job = wiring.job_service().peek(job_id)
    assert job is not None
    assert job.status == "succeeded"
    # Its webhooks are signed as before: the disabled tenant keeps its secrets.
    assert stored(other_tenant.tenant_id).signing_secrets(utc_now()) == [other_tenant.webhook_secret]


def test_an_enabled_tenant_works_again(tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]) -> None:
    tenants(capsys, "disable", "acme")
    assert main(["tenants", "enable", "acme", *TABLE]) == 0
    assert capsys.readouterr().out == "Tenant acme is enabled.\n"
    assert stored().disabled_at is None
    assert jobs_answer(tenant.api_key).status == 200


def test_a_disabled_tenants_new_key_is_refused_too(
    tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]
) -> None:
    tenants(capsys, "disable", "acme")
    rotated = tenants(capsys, "rotate-key", "acme")
    assert jobs_answer(rotated["apiKey"]).status == 403


def test_a_warm_function_notices_a_disable_once_its_cached_grant_is_stale(tenant: TenantCredentials) -> None:
    seconds = [0.0]
    cache = KeyCache(wiring.tenant_store().key_grant, ttl_seconds=60, monotonic=lambda: seconds[0])
    event = ApiClient(tenant.api_key).event("GET", "/jobs")
    assert isinstance(admit(event, cache), Admitted)
    assert main(["tenants", "disable", "acme", *TABLE]) == 0
    seconds[0] = 59.9
    assert isinstance(admit(event, cache), Admitted)
    seconds[0] = 60.0
    refusal = admit(event, cache)
    assert not isinstance(refusal, Admitted)
    assert refusal.status_code == 403


# ---------------------------------------------------------------- every action


@pytest.mark.parametrize(
    "action",
    [["rotate-key"], ["revoke-key", "--all-but-newest"], ["disable"], ["enable"]],
)
def test_an_unknown_tenant_is_reported(
    aws_backend: None, capsys: pytest.CaptureFixture[str], action: list[str]
) -> None:
    assert main(["tenants", action[0], "nobody", *action[1:], *TABLE]) == 2
    assert "There is no tenant named 'nobody'." in capsys.readouterr().err


@pytest.mark.parametrize(
    ("action", "says"),
    [
        ("rotate-key", "keep working for the grace period (24 hours"),
        ("revoke-key", "Revoke API keys at once"),
        ("list", "Keys and webhook secrets are never shown"),
        ("disable", "its running jobs finish and their webhooks go out"),
        ("enable", "its keys work as before"),
    ],
)
def test_help_describes_each_action(capsys: pytest.CaptureFixture[str], action: str, says: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tenants", action, "--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert says in out
    assert "--endpoint-url" in out
    assert "--table" in out
