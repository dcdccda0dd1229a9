"""POST /uploads: a presigned PUT URL scoped to the caller's tenant."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import requests

from jobgate.tenants import TenantCredentials
from tests.api import ApiClient
from tests.conftest import BUCKET


def test_an_upload_url_accepts_a_put_into_the_tenants_area(tenant: TenantCredentials) -> None:
    response = ApiClient(tenant.api_key).request("POST", "/uploads")
    assert response.status == 201
    upload = response.json
    assert upload["method"] == "PUT"
    assert upload["uploadId"].startswith("upl_")
    assert datetime.fromisoformat(upload["expiresAt"]) > datetime.now(UTC)
    put = requests.put(upload["url"], data=b"sku,qty\nA-1,3\n", timeout=5)
    assert put.status_code == 200
    stored = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"uploads/acme/{upload['uploadId']}")
    assert stored["Body"].read() == b"sku,qty\nA-1,3\n"


def test_uploads_need_a_key(tenant: TenantCredentials) -> None:
    assert ApiClient(None).request("POST", "/uploads").status == 401
