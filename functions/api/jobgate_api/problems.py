"""RFC 9457 problem+json responses: the one way an error body is built.

Which exception becomes which problem is app.py's exception handlers; the gate (gate.py) and
a few routes answer with a problem directly, where no exception is involved.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

from jobgate.domain.problems import PROBLEM_CONTENT_TYPE, problem_document


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response[str]:
    return Response(
        status_code=status,
        content_type=PROBLEM_CONTENT_TYPE,
        body=json.dumps(problem_document(status, slug, title, detail, **extensions)),
        headers=headers,
    )


def unauthorized(detail: str, *, key_was_sent: bool) -> Response[str]:
    # RFC 6750: a presented but unknown key gets error="invalid_token"; a missing one no error code.
    challenge = 'Bearer realm="jobgate", error="invalid_token"' if key_was_sent else 'Bearer realm="jobgate"'
    return problem(401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


def tenant_disabled(tenant_id: str) -> Response[str]:
    # 403, not 401: the key is genuine, so a client must not retry with another one or prompt for it.
    return problem(
        403,
        "tenant-disabled",
        "Tenant disabled",
        f"Tenant {tenant_id!r} is disabled: its requests are refused until it is enabled again. "
        "Jobs it started run to their end and their webhooks are still sent.",
    )


def validation_failed(status: int, detail: str, errors: list[dict[str, Any]]) -> Response[str]:
    title = "Invalid request" if status == 422 else "Bad request"
    return problem(status, "invalid-request", title, detail, errors=errors)


class MalformedHeader(ValueError):
    """A request header whose value does not parse: app.py answers it with bad_header."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name = name
        self.detail = detail


def bad_header(name: str, detail: str) -> Response[str]:
    """400 for a request header whose value does not parse."""
    return validation_failed(400, f"{name}: {detail}.", [{"pointer": f"header:{name}", "detail": detail}])
