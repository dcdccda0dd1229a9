"""/openapi.json declares what the API answers: problem+json errors, bodies only where there are bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from tests.api import ApiClient
from tests.conftest import LambdaContext

PROBLEM = "application/problem+json"


@pytest.fixture
def spec(aws_backend: None) -> dict[str, Any]:
    document: dict[str, Any] = ApiClient(None).get("/openapi.json").json
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def test_every_error_is_declared_as_a_problem(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        errors = {int(code): answer for code, answer in operation["responses"].items() if int(code) >= 400}
        assert 401 in errors, (method, path)
        for code, answer in errors.items():
            assert list(answer["content"]) == [PROBLEM], (method, path, code)
            assert answer["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_every_reference_leads_to_a_schema(spec: dict[str, Any]) -> None:
    # A dangling $ref makes client generators drop schemas (openapi-python-client warns).
    references = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert references
    assert references <= set(spec["components"]["schemas"])


def test_operations_have_names_a_generated_client_can_use(spec: dict[str, Any]) -> None:
    # Generators name their functions after these (openapi-python-client: submit_job, get_job, ...).
    assert {(method, path): op["operationId"] for method, path, op in operations(spec)} == {
        ("POST", "/jobs"): "submitJob",
        ("GET", "/jobs"): "listJobs",
        ("GET", "/jobs/{id}"): "getJob",
        ("DELETE", "/jobs/{id}"): "deleteJob",
        ("GET", "/jobs/{id}/events"): "listEvents",
        ("GET", "/jobs/{id}/result"): "getResult",
        ("GET", "/jobs/{id}/deliveries"): "listDeliveries",
        ("POST", "/jobs/{id}/deliveries/{sequence}/redeliver"): "redeliver",
        ("POST", "/uploads"): "createUpload",
        ("POST", "/vendor-callbacks/{callbackId}"): "receiveVendorCallback",
    }


def test_routes_with_a_body_declare_the_gates_refusals(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        if method == "POST":
            assert {"400", "413", "415", "422"} <= set(operation["responses"]), path


def test_answers_without_a_body_declare_no_content(spec: dict[str, Any]) -> None:
    responses = {(m, p): op["responses"] for m, p, op in operations(spec)}
    assert responses[("DELETE", "/jobs/{id}")]["204"]["content"] == {}
    assert responses[("GET", "/jobs/{id}/result")]["303"]["content"] == {}
    assert "Location" in responses[("GET", "/jobs/{id}/result")]["303"]["headers"]
    assert responses[("GET", "/jobs/{id}")]["304"]["content"] == {}


def test_a_result_is_any_json_value(spec: dict[str, Any]) -> None:
    result = spec["paths"]["/jobs/{id}/result"]["get"]["responses"]["200"]["content"]
    assert result == {"application/json": {"schema": {}}}


def test_a_submitted_job_links_to_its_operations(spec: dict[str, Any]) -> None:
    operation_ids = {op["operationId"] for _, _, op in operations(spec)}
    links = spec["paths"]["/jobs"]["post"]["responses"]["202"]["links"]
    assert {link["operationId"] for link in links.values()} <= operation_ids
    assert len(links) == 5


def test_the_request_headers_a_route_reads_are_declared(spec: dict[str, Any]) -> None:
    def headers(path: str, method: str) -> set[str]:
        parameters = spec["paths"][path][method].get("parameters", [])
        return {p["name"] for p in parameters if p["in"] == "header"}

    assert headers("/jobs", "post") == {"Idempotency-Key"}
    assert headers("/jobs/{id}", "get") == {"If-None-Match", "Prefer"}
    assert headers("/vendor-callbacks/{callbackId}", "post") == {"X-Vendor-Signature"}


@pytest.fixture
def powertools_swagger(aws_backend: None) -> Iterator[APIGatewayHttpResolver]:
    """The API's routes on a resolver of their own, whose /docs is Powertools' `enable_swagger`."""
    from jobgate_api import app as api

    reference = APIGatewayHttpResolver(enable_validation=True)
    try:
        for router in api.ROUTERS:
            reference.include_router(router)
        reference.enable_swagger(path="/docs", **api.openapi_schema_arguments())
        yield reference
    finally:
        for router in api.ROUTERS:  # include_router binds each router to the resolver it joins
            router.api_resolver = api.app


@pytest.mark.parametrize("query", [{}, {"format": "json"}, {"format": "oauth2-redirect"}])
def test_the_docs_page_is_the_one_powertools_serves(
    powertools_swagger: APIGatewayHttpResolver, query: dict[str, str]
) -> None:
    client = ApiClient(None)
    served = client.get("/docs", query=query)
    expected = powertools_swagger.resolve(client.event("GET", "/docs", query=query), LambdaContext())  # type: ignore[arg-type]
    assert served.status == expected["statusCode"] == 200
    assert served.headers == expected["headers"]
    assert served.text == expected["body"]


def test_routes_a_tenant_key_opens_declare_the_disabled_tenants_403(spec: dict[str, Any]) -> None:
    # Vendor callbacks carry no tenant key (a signature instead): a disabled tenant's checks still resume.
    for method, path, operation in operations(spec):
        keyed = path != "/vendor-callbacks/{callbackId}"
        assert ("403" in operation["responses"]) is keyed, (method, path)
    described = spec["paths"]["/jobs"]["get"]["responses"]["403"]["description"]
    assert described.startswith("The key is valid but its tenant is disabled")
