"""Lambda: the jobgate HTTP API. Admit (authenticate, check the body), then route."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from jobgate import aws, wiring
from jobgate.domain.errors import (
    DeliveryNotPossible,
    IdempotencyConflict,
    InvalidJobRequest,
    JobExpired,
    JobNotFound,
    ResultNotReady,
    TransientStoreError,
)
from jobgate.domain.polling import BACKPRESSURE_RETRY_AFTER_SECONDS
from jobgate.observability import instrumented, logger
from jobgate.store.jobs import InvalidCursor
from jobgate_api.gate import Admitted, KeyCache, admit, refusal_to_proxy_response
from jobgate_api.problems import MalformedHeader, bad_header, problem, validation_failed
from jobgate_api.routes import deliveries, jobs, uploads, vendor_callbacks

API_TITLE = "jobgate"
API_VERSION = "1.0.0"
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
ROUTERS = (jobs.router, uploads.router, deliveries.router, vendor_callbacks.router)

app = APIGatewayHttpResolver(enable_validation=True)
for _router in ROUTERS:
    app.include_router(_router)

_key_cache = KeyCache(lambda key_hash: wiring.tenant_store().key_grant(key_hash))


def openapi_schema_arguments() -> dict[str, Any]:
    """What both documents are built with. The security scheme is one of Powertools' OpenAPI
    models, which take ~150 ms to import: so only a request for a document imports them."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    return {
        "title": API_TITLE,
        "version": API_VERSION,
        "security_schemes": {"bearerAuth": HTTPBearer(scheme="bearer", description="Your API key.")},
        "security": SECURITY,
    }


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    document = json.loads(app.get_openapi_json_schema(**openapi_schema_arguments()))
    return Response(
        200, "application/json", json.dumps(_with_request_headers(_without_validation_error_schema(document)))
    )


@app.get("/docs", include_in_schema=False)
def docs() -> Response[str]:
    from jobgate_api.docs_page import swagger_page  # imports the OpenAPI models: see there

    return swagger_page(app, app.current_event.query_string_parameters or {}, openapi_schema_arguments())


@app.get("/console", include_in_schema=False)
def console_page() -> Response[str]:
    from jobgate_api import console  # its files are read on first request, not at import: see there

    return console.page()


@app.get("/console/", include_in_schema=False)
def console_with_a_slash() -> Response[str]:
    # The page's relative URLs resolve against /console; relative, so under any stage path.
    return Response(308, None, "", {"Location": "../console"})


@app.get("/console/<asset>", include_in_schema=False)
def console_asset(asset: str) -> Response[str]:
    from jobgate_api import console

    return console.asset(asset)


def _with_request_headers(document: dict[str, Any]) -> dict[str, Any]:
    for (method, path), parameters in {**jobs.REQUEST_HEADERS, **vendor_callbacks.request_headers()}.items():
        operation = document["paths"][path][method]
        operation["parameters"] = [*operation.get("parameters", []), *parameters]
    return document


def _without_validation_error_schema(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools declares a 422 `HTTPValidationError` on every route; the API never answers it
    (`_invalid_request` answers problem+json: 400, or 422 where a route declares it). Its
    `ResponseValidationError` (for response validation, which the API does not turn on) goes
    too: it refers to `ValidationError`, and generators refuse a reference that leads nowhere."""
    for operations in document["paths"].values():
        for operation in operations.values():
            if "HTTPValidationError" in json.dumps(operation["responses"].get("422", {})):
                del operation["responses"]["422"]
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        document.get("components", {}).get("schemas", {}).pop(name, None)
    return document


@app.exception_handler(RequestValidationError)
def _invalid_request(error: RequestValidationError) -> Response[str]:
    errors = [{"pointer": _pointer(e["loc"]), "detail": e["msg"]} for e in error.errors()]
    in_body = any(e["loc"] and e["loc"][0] == "body" for e in error.errors())
    # Body problems are 422 (unknown fields included, docs/api.md); bad query parameters are 400.
    return validation_failed(422 if in_body else 400, "The request has invalid fields.", errors)


def _pointer(location: tuple[Any, ...] | list[Any]) -> str:
    where, *path = location or ["body"]
    if where == "body":
        return "#/" + "/".join(str(part) for part in path)
    return f"{where}:" + ".".join(str(part) for part in path)


@app.exception_handler(MalformedHeader)
def _malformed_header(error: MalformedHeader) -> Response[str]:
    return bad_header(error.name, error.detail)


@app.exception_handler(InvalidJobRequest)
def _invalid_job(error: InvalidJobRequest) -> Response[str]:
    return validation_failed(422, str(error), error.errors)


@app.exception_handler(JobNotFound)
def _job_not_found(error: JobNotFound) -> Response[str]:
    return problem(404, "job-not-found", "Job not found", str(error))


@app.exception_handler(NotFoundError)
def _route_not_found(error: NotFoundError) -> Response[str]:
    method, path = app.current_event.request_context.http.method, app.current_event.raw_path
    allowed = allowed_methods(path)
    if allowed:
        return problem(
            405,
            "method-not-allowed",
            "Method not allowed",
            f"{path} answers {', '.join(allowed)}, not {method}.",
            headers={"Allow": ", ".join(allowed)},
        )
    return problem(404, "not-found", "Not found", f"No route matches {method} {path}.")


def allowed_methods(path: str) -> list[str]:
    """The methods some route answers on this path (HEAD wherever GET is: handler answers it)."""
    methods = {route.method for route in app._static_routes + app._dynamic_routes if route.rule.match(path)}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


@app.exception_handler(JobExpired)
def _job_expired(error: JobExpired) -> Response[str]:
    return problem(410, "job-expired", "Job expired", str(error), expiredAt=error.expired_at)


@app.exception_handler(ResultNotReady)
def _result_not_ready(error: ResultNotReady) -> Response[str]:
    return problem(409, "result-not-ready", "Result not available", str(error), jobStatus=error.status)


@app.exception_handler(IdempotencyConflict)
def _idempotency_conflict(error: IdempotencyConflict) -> Response[str]:
    return problem(409, "idempotency-key-reused", "Idempotency-Key reused", str(error))


@app.exception_handler(DeliveryNotPossible)
def _delivery_not_possible(error: DeliveryNotPossible) -> Response[str]:
    if error.reason == "no-event":
        return problem(404, "event-not-found", "Event not found", str(error))
    return problem(409, "no-callback", "No callback", str(error))


@app.exception_handler(InvalidCursor)
def _invalid_cursor(error: InvalidCursor) -> Response[str]:
    return validation_failed(
        400, "The cursor is not one this API returned.", [{"pointer": "query:cursor", "detail": "unknown cursor"}]
    )


def _backpressure(error: Exception) -> Response[str]:
    logger.warning("answering 503: an AWS dependency is unavailable", extra={"error": repr(error)})
    return problem(
        503,
        "service-unavailable",
        "Service unavailable",
        "jobgate's storage or workflow service is overloaded or slow; nothing was changed. Retry later.",
        headers={"Retry-After": str(BACKPRESSURE_RETRY_AFTER_SECONDS)},
    )


@app.exception_handler([ClientError, BotoCoreError, TransientStoreError])
def _aws_unavailable(error: Exception) -> Response[str]:
    """docs/api.md "Backpressure": throttled or timed-out AWS calls are a 503, never a 500."""
    if not (isinstance(error, TransientStoreError) or aws.is_backpressure(error)):
        raise error
    return _backpressure(error)


@logger.inject_lambda_context(clear_state=True)
@instrumented
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        admitted = admit(event, _key_cache)
    except (ClientError, BotoCoreError) as error:  # the key lookup; the routes' calls are mapped above
        if not aws.is_backpressure(error):
            raise
        return refusal_to_proxy_response(_backpressure(error))
    if not isinstance(admitted, Admitted):
        return refusal_to_proxy_response(admitted)
    if admitted.tenant_id:
        logger.append_keys(tenant_id=admitted.tenant_id)
    app.append_context(tenant_id=admitted.tenant_id)
    if _method(admitted.event) != "HEAD":
        return app.resolve(admitted.event, context)
    # HEAD is answered as GET without the body (RFC 9110 9.3.2); API Gateway sends it to the
    # $default route.
    as_get = {**admitted.event, "requestContext": {**admitted.event["requestContext"]}}
    as_get["requestContext"]["http"] = {**as_get["requestContext"]["http"], "method": "GET"}
    answer = app.resolve(as_get, context)
    return {**answer, "body": "", "isBase64Encoded": False}


def _method(event: Mapping[str, Any]) -> str:
    return str(event.get("requestContext", {}).get("http", {}).get("method", "GET"))
