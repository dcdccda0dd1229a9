"""Drive the API Lambda with API Gateway (payload 2.0) events built from events/*.json."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack
from urllib.parse import urlencode

from tests.conftest import LambdaContext, load_event

# Planned past Express's bound (jobgate.registry.EXPRESS_PLANNED_SECONDS): runs as a Standard workflow.
STANDARD_DEMO = {"steps": 3, "stepSeconds": 3600}


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class RequestOptions(TypedDict, total=False):
    body: Any  # sent as JSON
    raw_body: str
    binary_body: bytes
    headers: dict[str, str]
    query: dict[str, str]


@dataclass
class ApiClient:
    api_key: str | None
    default_headers: dict[str, str] = field(default_factory=dict)

    def event(self, method: str, path: str, **options: Unpack[RequestOptions]) -> dict[str, Any]:
        """The API Gateway event of this request, as `request` sends it to the handler."""
        query, body, raw_body = options.get("query"), options.get("body"), options.get("raw_body")
        event = copy.deepcopy(load_event("api_get_job.json"))
        event["routeKey"] = "$default"
        event["rawPath"] = path
        event["requestContext"]["http"]["method"] = method
        event["requestContext"]["http"]["path"] = path
        event.pop("pathParameters", None)
        event["rawQueryString"] = urlencode(query or {})
        if query:
            event["queryStringParameters"] = query
        sent_headers = {"host": "abc123.execute-api.us-east-1.amazonaws.com", **self.default_headers}
        if self.api_key is not None:
            sent_headers["authorization"] = f"Bearer {self.api_key}"
        if body is not None:
            raw_body = json.dumps(body)
            sent_headers["content-type"] = "application/json"
        sent_headers.update(options.get("headers") or {})
        event["headers"] = {k.lower(): v for k, v in sent_headers.items()}
        if raw_body is not None:
            event["body"] = raw_body
        if (binary_body := options.get("binary_body")) is not None:  # as API Gateway passes a body that is not text
            event["body"] = base64.b64encode(binary_body).decode()
            event["isBase64Encoded"] = True
        return event

    def request(self, method: str, path: str, **options: Unpack[RequestOptions]) -> ApiResponse:
        from jobgate_api.app import handler

        event = self.event(method, path, **options)
        result = handler(event, LambdaContext(function_name="jobgate-api"))  # type: ignore[arg-type]
        return ApiResponse(
            status=result["statusCode"], headers=result.get("headers") or {}, text=result.get("body") or ""
        )

    def submit(self, job_input: dict[str, Any] | None = None, **extra: Any) -> ApiResponse:
        """A demo job; its default input (3 steps of 1 s) runs as Express, STANDARD_DEMO as Standard."""
        return self.request("POST", "/jobs", body={"type": "demo", "input": job_input or {}, **extra})

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)
