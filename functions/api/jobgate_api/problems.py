"""RFC 9457 problem+json responses: the one way an error body is built.

Which exception becomes which problem is app.py's exception handlers; the gate (gate.py) and
a few routes answer with a problem directly, where no exception is involved.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:jobgate:problem:"


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response[str]:
    body = {"type": PROBLEM_TYPE_BASE + slug, "title": title, "status": status, "detail": detail, **extensions}
    return Response(
        status_code=status,
        content_type=PROBLEM_CONTENT_TYPE,
        body=json.dumps(body),
        headers=headers,
    )


def unauthorized(detail: str, *, key_was_sent: bool) -> Response[str]:
    # RFC 6750: a presented but unknown key gets error="invalid_token"; a missing one no error code.
    challenge = 'Bearer realm="jobgate", error="invalid_token"' if key_was_sent else 'Bearer realm="jobgate"'
    return problem(401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


def validation_failed(status: int, detail: str, errors: list[dict[str, Any]]) -> Response[str]:
    title = "Invalid request" if status == 422 else "Bad request"
    return problem(status, "invalid-request", title, detail, errors=errors)
