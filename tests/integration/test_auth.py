"""Authentication: docs/api.md's exact 401s, and public docs."""

from __future__ import annotations

import pytest

from jobgate.tenants import TenantCredentials
from tests.api import ApiClient


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, 'Bearer realm="jobgate"'),
        ("Bearer jg_not-a-real-key", 'Bearer realm="jobgate", error="invalid_token"'),
        ("Basic YWxhZGRpbjpvcGVuc2VzYW1l", 'Bearer realm="jobgate", error="invalid_token"'),
        ("Bearer ", 'Bearer realm="jobgate", error="invalid_token"'),
    ],
)
def test_missing_or_bad_keys_get_401_with_a_bearer_challenge(
    tenant: TenantCredentials, authorization: str | None, challenge: str
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = ApiClient(None).request("GET", "/jobs", headers=headers)
    assert response.status == 401
    assert response.header("WWW-Authenticate") == challenge
    assert response.header("Content-Type") == "application/problem+json"
    assert response.json["status"] == 401
    assert response.json["title"] == "Unauthorized"


def test_authentication_comes_before_body_checks(tenant: TenantCredentials) -> None:
    response = ApiClient(None).request("POST", "/jobs", raw_body="not json", headers={"content-type": "text/plain"})
    assert response.status == 401


def test_header_names_are_read_case_insensitively(tenant: TenantCredentials) -> None:
    # SAM's local router keeps header case; API Gateway lowercases it.
    response = ApiClient(None).request("GET", "/jobs", headers={"AUTHORIZATION": f"Bearer {tenant.api_key}"})
    assert response.status == 200


def test_openapi_and_docs_need_no_key(aws_backend: None) -> None:
    spec = ApiClient(None).get("/openapi.json")
    docs = ApiClient(None).get("/docs")
    assert spec.status == 200
    assert spec.json["openapi"].startswith("3.")
    assert docs.status == 200
    assert "swagger" in docs.text.lower()
