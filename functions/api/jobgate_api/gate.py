"""Checks made before routing: authentication and the body's size and media type.

They run before Powertools' validation so that, for example, an unauthenticated request
with a bad body gets 401, not 422, and a non-JSON body gets 415, not a parse error.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import Response

from jobgate.domain.tenants import hash_api_key
from jobgate_api.problems import problem, unauthorized

MAX_BODY_BYTES = 256 * 1024
PUBLIC_ROUTES = frozenset({("GET", "/openapi.json"), ("GET", "/docs")})
# Background-check vendors have no tenant key: each request is authenticated by its
# X-Vendor-Signature in the route itself (routes/vendor_callbacks.py).
SIGNED_CALLBACK_ROUTES = (("POST", "/vendor-callbacks/"),)
# A revoked key keeps working on a warm function for at most this long.
KEY_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Admitted:
    tenant_id: str | None  # None on public routes


TenantLookup = Callable[[str], str | None]


class KeyCache:
    """Caches key-hash -> tenant so a warm function does not read DynamoDB on every request."""

    def __init__(self, lookup: TenantLookup, ttl_seconds: float = KEY_CACHE_SECONDS) -> None:
        self._lookup = lookup
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[str, float]] = {}

    def tenant_for(self, key_hash: str) -> str | None:
        cached = self._entries.get(key_hash)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        tenant_id = self._lookup(key_hash)
        if tenant_id is not None:  # unknown keys are not cached: a new key works at once
            self._entries[key_hash] = (tenant_id, now + self._ttl)
        return tenant_id


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Header lookup that ignores case (API Gateway lowercases names; SAM's local router does not)."""
    wanted = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == wanted:
            return value
    return None


def admit(event: Mapping[str, Any], key_cache: KeyCache) -> Admitted | Response[str]:
    method = event.get("requestContext", {}).get("http", {}).get("method", "GET")
    path = event.get("rawPath", "/")
    headers = event.get("headers")
    if (method, path) in PUBLIC_ROUTES:
        return Admitted(tenant_id=None)
    if any(method == m and path.startswith(prefix) for m, prefix in SIGNED_CALLBACK_ROUTES):
        return _check_body(event, headers) or Admitted(tenant_id=None)
    tenant_or_refusal = _authenticate(header(headers, "authorization"), key_cache)
    if isinstance(tenant_or_refusal, Response):
        return tenant_or_refusal
    body_refusal = _check_body(event, headers)
    return body_refusal or Admitted(tenant_id=tenant_or_refusal)


def _authenticate(authorization: str | None, key_cache: KeyCache) -> str | Response[str]:
    if not authorization:
        return unauthorized("Send your API key as 'Authorization: Bearer <key>'.", key_was_sent=False)
    scheme, _, api_key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not api_key.strip():
        return unauthorized("The Authorization header must be 'Bearer <key>'.", key_was_sent=True)
    tenant_id = key_cache.tenant_for(hash_api_key(api_key.strip()))
    if tenant_id is None:
        return unauthorized("The API key is not valid.", key_was_sent=True)
    return tenant_id


def _check_body(event: Mapping[str, Any], headers: Mapping[str, str] | None) -> Response[str] | None:
    raw = event.get("body")
    if raw is None or raw == "":
        return None
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else str(raw).encode()
    if len(body) > MAX_BODY_BYTES:
        return problem(
            413,
            "payload-too-large",
            "Payload too large",
            f"The request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes. "
            "Send large inputs through POST /uploads.",
        )
    content_type = (header(headers, "content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        return _unsupported(f"The body must be JSON sent as 'Content-Type: application/json', not {content_type!r}.")
    try:
        json.loads(body)
    except ValueError as error:
        return _unsupported(f"The body is not valid JSON: {error}.")
    return None


def _unsupported(detail: str) -> Response[str]:
    return problem(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        detail,
        headers={"Accept-Post": "application/json"},
    )


def refusal_to_proxy_response(refusal: Response[str]) -> dict[str, Any]:
    """An API Gateway (payload 2.0) response for a request refused before routing."""
    headers = {name: value if isinstance(value, str) else ", ".join(value) for name, value in refusal.headers.items()}
    return {"statusCode": refusal.status_code, "headers": headers, "body": refusal.body or "", "isBase64Encoded": False}
