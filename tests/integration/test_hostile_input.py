"""Hostile input gets its documented 4xx problem+json, before any expensive work and never a 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from jobgate import aws
from jobgate.jobtypes.background_check import signing
from jobgate.tenants import TenantCredentials
from tests.api import ApiClient, ApiResponse

PROBLEM = "application/problem+json"
DEEP = "[" * 2000 + "]" * 2000
JSON_HEADERS = {"content-type": "application/json"}


def assert_problem(answer: ApiResponse, status: int, pointer: str | None = None) -> None:
    assert (answer.status, answer.header("content-type")) == (status, PROBLEM), answer.text
    body = answer.json
    assert body["status"] == status
    if pointer is not None:
        assert pointer in [error["pointer"] for error in body["errors"]]


@pytest.fixture
def api(tenant: TenantCredentials) -> ApiClient:
    return ApiClient(tenant.api_key)


@pytest.mark.parametrize("path", ["/jobs", "/uploads"])
def test_json_nested_too_deep_is_refused(api: ApiClient, path: str) -> None:
    assert_problem(api.request("POST", path, raw_body=DEEP, headers=JSON_HEADERS), 422, "#")


def test_a_vendor_callback_nested_too_deep_is_refused_without_a_key(aws_backend: None) -> None:
    answer = ApiClient(None).request("POST", "/vendor-callbacks/vcb_x", raw_body=DEEP, headers=JSON_HEADERS)
    assert_problem(answer, 422, "#")


@pytest.mark.parametrize("path", ["/jobs", "/uploads"])
def test_an_integer_too_long_to_convert_is_a_422_not_a_non_json_body(api: ApiClient, path: str) -> None:
    # Valid JSON (RFC 8259 sets no limit) that Python refuses to turn into an int: 4,300 digits at most.
    body = '{"type": "demo", "input": {"steps": ' + "9" * 5000 + "}}"
    answer = api.request("POST", path, raw_body=body, headers=JSON_HEADERS)
    assert_problem(answer, 422, "#")
    assert "more than 4300 digits" in answer.json["detail"]


def test_a_vendor_callback_with_an_integer_too_long_is_a_422_without_a_key(aws_backend: None) -> None:
    body = '{"status": ' + "1" * 4301 + "}"
    answer = ApiClient(None).request("POST", "/vendor-callbacks/vcb_x", raw_body=body, headers=JSON_HEADERS)
    assert_problem(answer, 422, "#")


def test_brackets_inside_strings_do_not_count_as_nesting(api: ApiClient) -> None:
    answer = api.submit({"steps": 1, "stepSeconds": 0}, retention="[" * 100)
    assert_problem(answer, 422, "#/retention")  # refused for the retention, not the depth


@pytest.mark.parametrize(
    "signature",
    ["t=\u00b2,v1=00", "t=" + "9" * 5000 + ",v1=00", "t=1,v1=not-hex", "v1=00", "nonsense"],
)
def test_a_malformed_vendor_signature_is_a_400(aws_backend: None, signature: str) -> None:
    headers = {**JSON_HEADERS, "x-vendor-signature": signature}
    answer = ApiClient(None).request("POST", "/vendor-callbacks/vcb_x", raw_body="{}", headers=headers)
    assert_problem(answer, 400, f"header:{signing.SIGNATURE_HEADER}")


def test_a_well_formed_wrong_vendor_signature_is_a_401(aws_backend: None) -> None:
    headers = {**JSON_HEADERS, "x-vendor-signature": "t=1700000000,v1=00"}
    assert_problem(ApiClient(None).request("POST", "/vendor-callbacks/vcb_x", raw_body="{}", headers=headers), 401)


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ({"cursor": "\u00e9"}, "query:cursor"),
        ({"cursor": "not a cursor"}, "query:cursor"),
        ({"limit": "9" * 5000}, "query:limit"),
        ({"limit": "x"}, "query:limit"),
        ({"status": "sleeping"}, "query:status"),
    ],
)
def test_bad_list_parameters_are_400(api: ApiClient, query: dict[str, str], pointer: str) -> None:
    assert_problem(api.get("/jobs", query=query), 400, pointer)


@pytest.mark.parametrize(
    ("query", "pointer"), [({"after": "9" * 5000}, "query:after"), ({"after": "-1"}, "query:after")]
)
def test_bad_event_parameters_are_400(api: ApiClient, query: dict[str, str], pointer: str) -> None:
    job_id = api.submit().json["id"]
    assert_problem(api.get(f"/jobs/{job_id}/events", query=query), 400, pointer)


def test_a_redelivery_sequence_too_large_is_400(api: ApiClient) -> None:
    job_id = api.submit().json["id"]
    assert_problem(api.request("POST", f"/jobs/{job_id}/deliveries/{'9' * 5000}/redeliver"), 400)


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        ({"prefer": "wait=" + "9" * 5000, "if-none-match": '"1"'}, "Prefer"),
        ({"prefer": "wait=\u00b2", "if-none-match": '"1"'}, "Prefer"),
        ({"if-none-match": "no quotes"}, "If-None-Match"),
        ({"if-none-match": '"caf\u00e9"'}, "If-None-Match"),
    ],
)
def test_malformed_read_headers_are_400(api: ApiClient, headers: dict[str, str], name: str) -> None:
    job_id = api.submit().json["id"]
    assert_problem(api.get(f"/jobs/{job_id}", headers=headers), 400, f"header:{name}")


def test_a_long_wait_is_capped_not_refused(api: ApiClient) -> None:
    job = api.submit().json
    answer = api.get(f"/jobs/{job['id']}", headers={"prefer": "wait=0, foo", "if-none-match": '"nope"'})
    assert (answer.status, answer.header("preference-applied")) == (200, "wait=0")


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "has space"])
def test_a_malformed_idempotency_key_is_400(api: ApiClient, key: str) -> None:
    answer = api.request("POST", "/jobs", body={"type": "demo", "input": {}}, headers={"idempotency-key": key})
    assert_problem(answer, 400, "header:Idempotency-Key")


@pytest.mark.parametrize(
    "content_type",
    ["APPLICATION/JSON", "application/json; charset=utf-8", 'Application/Json; Charset="UTF-8"', "application/x+json"],
)
def test_json_media_types_are_accepted_in_any_case(api: ApiClient, content_type: str) -> None:
    body = json.dumps({"type": "demo", "input": {}})
    answer = api.request("POST", "/jobs", raw_body=body, headers={"content-type": content_type})
    assert answer.status == 202, answer.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/json; charset=latin-1", "application/jsonx", ""])
def test_other_media_types_are_415_problems(api: ApiClient, content_type: str) -> None:
    body = json.dumps({"type": "demo", "input": {}})
    answer = api.request("POST", "/jobs", raw_body=body, headers={"content-type": content_type})
    assert_problem(answer, 415)
    assert answer.header("accept-post") == "application/json"


def test_a_body_that_is_not_utf8_is_400(api: ApiClient) -> None:
    answer = api.request("POST", "/jobs", binary_body=b'{"type": "d\xff\xfe"}', headers=JSON_HEADERS)
    assert_problem(answer, 400, "#")


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/", 404, None),
        ("GET", "/nope", 404, None),
        ("PUT", "/jobs/job_01M8S1XHSXDHABPX1D9YD1ZXZD", 405, "DELETE, GET, HEAD"),
        ("PATCH", "/jobs/job_01M8S1XHSXDHABPX1D9YD1ZXZD/result", 405, "GET, HEAD"),
        ("GET", "/uploads", 405, "POST"),
    ],
)
def test_unknown_routes_are_404_and_wrong_methods_405(
    api: ApiClient, method: str, path: str, status: int, allow: str | None
) -> None:
    answer = api.request(method, path)
    assert_problem(answer, status)
    assert answer.header("allow") == allow


def test_head_answers_as_get_without_a_body(api: ApiClient) -> None:
    job_id = api.submit().json["id"]
    got, head = api.get(f"/jobs/{job_id}"), api.request("HEAD", f"/jobs/{job_id}")
    assert (head.status, head.text, head.header("etag")) == (200, "", got.header("etag"))
    assert head.header("content-type") == "application/json"


MAX_DYNAMODB_KEY_BYTES = 2048


def refuse_oversized_keys(params: dict[str, Any], **_: Any) -> None:
    """What DynamoDB does with a key over 2 KiB (moto does not check it)."""
    if any(len(value.get("S", "").encode()) > MAX_DYNAMODB_KEY_BYTES for value in params.get("Key", {}).values()):
        raise ClientError(
            {"Error": {"Code": "ValidationException", "Message": "Hash primary key values must be under 2048 bytes"}},
            "GetItem",
        )


@pytest.mark.parametrize("suffix", ["", "/events", "/result", "/deliveries"])
def test_an_id_we_never_issue_is_not_found_without_a_read(api: ApiClient, suffix: str) -> None:
    aws.dynamodb().meta.events.register("before-parameter-build.dynamodb.GetItem", refuse_oversized_keys)
    assert_problem(api.get(f"/jobs/job_{'A' * 3000}{suffix}"), 404)
    assert_problem(api.delete(f"/jobs/job_{'A' * 3000}"), 404)
