"""Requests the local HTTP server itself used to answer (403, 502, HTML 431): each gets the API's problem+json."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import Client

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/", 404, None),
        ("GET", "/nope", 404, None),
        ("POST", "/jobs/x/y/z", 404, None),
        ("PUT", "/jobs/job_01M8S1XHSXDHABPX1D9YD1ZXZD", 405, "DELETE, GET, HEAD"),
        ("PATCH", "/jobs/job_01M8S1XHSXDHABPX1D9YD1ZXZD", 405, "DELETE, GET, HEAD"),
        ("DELETE", "/jobs", 405, "GET, HEAD, POST"),
    ],
)
def test_unknown_routes_and_methods_are_problems(
    client: Client, method: str, path: str, status: int, allow: str | None
) -> None:
    answer = client.request(method, path, json={})
    assert (answer.status_code, answer.headers["Content-Type"]) == (status, PROBLEM)
    assert answer.json()["status"] == status
    assert answer.headers.get("Allow") == allow


def test_head_is_answered_as_get_without_a_body(client: Client) -> None:
    got = client.request("GET", "/jobs")
    head = client.request("HEAD", "/jobs")
    assert (head.status_code, head.headers["Content-Type"], head.content) == (200, got.headers["Content-Type"], b"")


def test_a_body_that_is_not_utf8_is_a_400_problem(client: Client) -> None:
    answer = client.request(
        "POST", "/jobs", data=b'{"type": "d\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert (answer.status_code, answer.headers["Content-Type"]) == (400, PROBLEM)
    assert "UTF-8" in answer.json()["detail"]


def test_too_many_headers_is_a_431_problem(local_stack: LocalStack) -> None:
    # requests itself refuses to read a reply after so many headers; http.client sends them raw.
    url = urlsplit(local_stack.api_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    connection.putrequest("GET", "/jobs")
    for index in range(200):
        connection.putheader(f"X-H{index}", "v" * 40)
    connection.endheaders()
    answer = connection.getresponse()
    assert (answer.status, answer.getheader("Content-Type")) == (431, PROBLEM)
    assert json.loads(answer.read())["status"] == 431
    connection.close()
