"""Webhook signatures (docs/webhooks.md): the Svix test vector, and what Standard Webhooks receivers accept."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from jobgate.domain.tenants import SECRET_OVERLAP, new_tenant, rotate_webhook_secret
from jobgate.webhooks.signing import new_webhook_secret, sign, signature_header, webhook_headers, webhook_id

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BODY = json.dumps(
    {"sequence": 1, "type": "job.started", "timestamp": "2026-01-01T00:00:00.000Z", "data": {"job": {}}},
    separators=(",", ":"),
).encode()


def received_by(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """Whether a receiver holding only `secret` accepts the request (the reference library)."""
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def test_the_svix_test_vector() -> None:
    body = b'{"event_type":"ping","data":{"success":true}}'
    signature = sign("whsec_plJ3nmyCDGBKInavdOK15jsl", "msg_loFOjxBNrRLzqYUf", 1731705121, body)
    assert signature == "v1,rAvfW3dJ/X/qxhsaXPOyyCGmRKsaKWcsNccKXlIktD0="


def test_a_standard_webhooks_receiver_accepts_our_headers() -> None:
    secret = new_webhook_secret()
    headers = webhook_headers([secret], webhook_id("job_01", 1), int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers)["type"] == "job.started"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("jobgate-webhooks/")


def test_a_tampered_body_or_another_secret_is_refused() -> None:
    secret = new_webhook_secret()
    headers = webhook_headers([secret], webhook_id("job_01", 1), int(time.time()), BODY)
    assert not received_by(secret, BODY.replace(b"started", b"succeeded"), headers)
    assert not received_by(new_webhook_secret(), BODY, headers)


def test_the_webhook_id_is_the_same_for_every_attempt_of_one_event() -> None:
    first_attempt = webhook_headers([new_webhook_secret()], webhook_id("job_01", 3), 1_700_000_000, BODY)
    retry = webhook_headers([new_webhook_secret()], webhook_id("job_01", 3), 1_700_000_300, BODY)
    assert first_attempt["webhook-id"] == retry["webhook-id"]
    assert len({webhook_id("job_01", 3), webhook_id("job_01", 4), webhook_id("job_02", 3)}) == 3


def test_during_a_rotation_receivers_with_either_secret_accept() -> None:
    old, new = new_webhook_secret(), new_webhook_secret()
    tenant = rotate_webhook_secret(new_tenant("acme", old, T0), new, T0 + timedelta(days=30))
    secrets = tenant.signing_secrets(T0 + timedelta(days=30, hours=1))
    assert secrets == [new, old]
    headers = webhook_headers(secrets, webhook_id("job_01", 1), int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert received_by(old, BODY, headers)
    assert received_by(new, BODY, headers)


def test_after_the_overlap_only_the_new_secret_signs() -> None:
    old, new = new_webhook_secret(), new_webhook_secret()
    tenant = rotate_webhook_secret(new_tenant("acme", old, T0), new, T0)
    assert tenant.signing_secrets(T0 + SECRET_OVERLAP - timedelta(seconds=1)) == [new, old]
    assert tenant.signing_secrets(T0 + SECRET_OVERLAP) == [new]


def test_rotating_again_drops_retired_secrets_and_never_extends_an_old_one() -> None:
    first, second, third, fourth = (new_webhook_secret() for _ in range(4))
    tenant = rotate_webhook_secret(new_tenant("acme", first, T0), second, T0)
    # A second rotation soon after (say the new secret leaked): `first` still stops on time.
    tenant = rotate_webhook_secret(tenant, third, T0 + timedelta(hours=20))
    assert tenant.signing_secrets(T0 + timedelta(hours=23)) == [third, second, first]
    assert tenant.signing_secrets(T0 + SECRET_OVERLAP) == [third, second]
    tenant = rotate_webhook_secret(tenant, fourth, T0 + timedelta(days=3))
    assert [s.secret for s in tenant.webhook_secrets] == [fourth, third]


def test_a_secret_must_be_given() -> None:
    with pytest.raises(ValueError, match="at least one"):
        signature_header([], "job_01.1", 1_700_000_000, BODY)
