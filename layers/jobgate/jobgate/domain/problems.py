"""RFC 9457 problem details: the one spelling of an error body, for the API function and the
local stack's HTTP server (which answers requests it cannot hand to the function, e.g. 431)."""

from __future__ import annotations

from typing import Any

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:jobgate:problem:"


def problem_document(status: int, slug: str, title: str, detail: str, **extensions: Any) -> dict[str, Any]:
    return {"type": PROBLEM_TYPE_BASE + slug, "title": title, "status": status, "detail": detail, **extensions}
