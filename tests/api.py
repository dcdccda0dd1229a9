"""Drive the API Lambda with API Gateway (payload 2.0) events built from events/*.json."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from typing import Any
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


@dataclass
class ApiClient:
    api_key: str | None
    default_headers: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw_body: str | None = None,
        binary_body: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> ApiResponse:
        from jobgate_api.app import handler

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
        sent_headers.update(headers or {})
        event["headers"] = {k.lower(): v for k, v in sent_headers.items()}
        if raw_body is not None:
            event["body"] = raw_body
        if binary_body is not None:  # as API Gateway passes a body that is not text
            event["body"] = base64.b64encode(binary_body).decode()
            event["isBase64Encoded"] = True
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
