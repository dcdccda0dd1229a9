"""Request and response bodies of the HTTP API (they also generate /openapi.json)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader
from pydantic import BaseModel, ConfigDict, Field

from jobgate.domain.models import CamelModel, EventType, JobEvent, JobResource, Timestamp
from jobgate.domain.problems import PROBLEM_CONTENT_TYPE
from jobgate.lazy import LazyModel


class CallbackRequest(LazyModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2048, description="HTTPS URL that receives a signed webhook per event (see docs/webhooks.md)."
    )
    events: list[EventType] | None = Field(
        default=None, description="Event types to send; default: every status change, not job.progress."
    )


class SubmitJobRequest(LazyModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="The job type, e.g. `demo`.")
    input: dict[str, Any] = Field(default_factory=dict, description="Input, validated by the job type's model.")
    callback: CallbackRequest | None = None
    retention: str | None = Field(
        default=None,
        description=(
            "How long the finished job stays readable (ISO 8601 duration); the default and the bounds "
            "are the stack's JobRetentionDefault, JobRetentionMin and JobRetentionMax parameters."
        ),
    )


class JobList(LazyModel):
    items: list[JobResource]
    next: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class EventList(LazyModel):
    items: list[JobEvent]
    next: str | None = Field(description="Pass as `after` for the next page; null when there is no more.")


class UploadCreated(CamelModel):
    upload_id: str
    url: str
    method: str = "PUT"
    expires_at: Timestamp


class FieldError(LazyModel):
    pointer: str = Field(description="`#/input/steps` in the body, `query:limit`, `header:Prefer`.")
    detail: str


class Problem(LazyModel):
    """RFC 9457 problem details; some types add members (`expiredAt`, `jobStatus`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="`urn:jobgate:problem:<slug>`, see docs/api.md.")
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(default=None, description="On 400 and 422: each field that failed.")


def _header(description: str) -> OpenAPIResponseHeader:
    return {"description": description, "schema": {"type": "string"}}


_PROBLEMS: dict[int, tuple[str, dict[str, OpenAPIResponseHeader]]] = {
    400: ("A malformed query parameter, header or path parameter, or a body that is not UTF-8.", {}),
    401: (
        "No valid API key (or, on vendor callbacks, no valid signature).",
        {"WWW-Authenticate": _header('`Bearer realm="jobgate"`, with `error="invalid_token"` for a bad key.')},
    ),
    403: ("The key is valid but its tenant is disabled (`tenant-disabled`).", {}),
    404: ("No such job (or another tenant's), event or callback.", {}),
    409: ("The request conflicts with the job's state or an earlier request.", {}),
    410: ("The job expired (or the vendor's check no longer waits).", {}),
    413: ("The body is over 256 KiB.", {}),
    415: ("The body is not JSON.", {"Accept-Post": _header("`application/json`.")}),
    422: ("The body is JSON but invalid (or nested too deep).", {}),
    503: ("A dependency could not be reached now; send the request again.", {"Retry-After": _header("Seconds.")}),
}
# Answers a route can give whatever it does: the gate's (gate.py), its job lookup's, and 503
# when AWS throttles or times out (app.py's backpressure handler, the key lookup included).
AUTHENTICATED = (401, 403, 503)
ON_A_JOB = (*AUTHENTICATED, 404, 410)
WITH_A_BODY = (400, 413, 415, 422)


def problem_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """The OpenAPI responses of these problem statuses (docs/api.md, Errors)."""
    responses: dict[int, OpenAPIResponse] = {}
    for status in sorted(set(statuses)):
        description, headers = _PROBLEMS[status]
        response: OpenAPIResponse = {
            "description": description,
            "content": {PROBLEM_CONTENT_TYPE: {"model": Problem}},
        }
        if headers:
            response["headers"] = headers
        responses[status] = response
    return responses


def json_response(
    description: str, model: type[BaseModel] | None, headers: dict[str, str] | None = None
) -> OpenAPIResponse:
    """A JSON answer (`model` None: any JSON value) with these headers (name: description)."""
    content: Any = {"model": model} if model is not None else {"schema": {}}
    return _with_headers({"description": description, "content": {"application/json": content}}, headers)


def empty_response(description: str, headers: dict[str, str] | None = None) -> OpenAPIResponse:
    """An answer without a body (204, 303, 304)."""
    return _with_headers({"description": description, "content": {}}, headers)


def _with_headers(response: OpenAPIResponse, headers: dict[str, str] | None) -> OpenAPIResponse:
    if headers:
        response["headers"] = {name: _header(text) for name, text in headers.items()}
    return response


# Request headers a route reads itself (Powertools' Header() would split their values at
# commas): declared per operation, (method, path) -> OpenAPI parameters, merged by app.py.
RequestHeaders = dict[tuple[str, str], list[dict[str, Any]]]


def header_parameter(name: str, description: str, pattern: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description + " Malformed: 400.",
        "schema": {"type": "string", "pattern": pattern},
    }
