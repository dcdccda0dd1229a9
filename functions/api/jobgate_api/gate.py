"""Checks made before routing: authentication and the body's size, media type, encoding and depth.

They run before Powertools' validation so that, for example, an unauthenticated request
with a bad body gets 401, not 422, and a non-JSON body gets 415, not a parse error.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate
from typing import Any

from aws_lambda_powertools.event_handler import Response

from jobgate.domain.tenants import KeyGrant, hash_api_key
from jobgate.timeutil import to_rfc3339, utc_now
from jobgate_api.problems import problem, tenant_disabled, unauthorized, validation_failed

MAX_BODY_BYTES = 256 * 1024
# Deeper JSON is refused before it is parsed: Python's parser recurses once per level.
MAX_JSON_DEPTH = 32
JSON_MEDIA_TYPE = "application/json"
# application/json or a structured-syntax JSON type (RFC 6839), any case, with optional parameters.
_JSON_MEDIA_TYPE_PATTERN = re.compile(r"^application/(?:[a-z0-9.!#$&^_-]+\+)?json$")
_CHARSET_PATTERN = re.compile(r"""^charset\s*=\s*"?utf-8"?$""")
# A string, or an unterminated one up to the end: possessive, so the scan stays linear.
_JSON_STRING_PATTERN = re.compile(rb'"(?:[^"\\]++|\\.?)*+(?:"|\Z)', re.DOTALL)
_JSON_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
PUBLIC_ROUTES = frozenset({("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/console")})
# The web console's assets: the console signs in with a key its user types (console/__init__.py).
PUBLIC_PREFIXES = (("GET", "/console/"),)
# Background-check vendors have no tenant key: each request is authenticated by its
# X-Vendor-Signature in the route itself (routes/vendor_callbacks.py).
SIGNED_CALLBACK_ROUTES = (("POST", "/vendor-callbacks/"),)
# A revoked key (or a disabled tenant's) keeps working on a warm function for at most this long.
# A key's expiry is data in the cached grant, checked on every request: it is exact.
KEY_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Admitted:
    tenant_id: str | None  # None on public routes
    # The event to route: a JSON body's Content-Type is spelt `application/json`, the one
    # form Powertools' validation parses (it compares case-sensitively).
    event: Mapping[str, Any]


GrantLookup = Callable[[str], KeyGrant | None]


class KeyCache:
    """Caches key-hash -> grant so a warm function does not read DynamoDB on every request."""

    def __init__(
        self,
        lookup: GrantLookup,
        ttl_seconds: float = KEY_CACHE_SECONDS,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self.clock = clock  # what a grant's expiry is compared with
        self._entries: dict[str, tuple[KeyGrant, float]] = {}

    def grant_for(self, key_hash: str) -> KeyGrant | None:
        cached = self._entries.get(key_hash)
        now = self._monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        grant = self._lookup(key_hash)
        if grant is not None:  # unknown keys are not cached: a new key works at once
            self._entries[key_hash] = (grant, now + self._ttl)
        return grant


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
    # HEAD is answered as GET (app.handler), so what is public to GET is public to HEAD.
    read = "GET" if method == "HEAD" else method
    if (read, path) in PUBLIC_ROUTES or _starts_with_any(read, path, PUBLIC_PREFIXES):
        return Admitted(tenant_id=None, event=event)
    if _starts_with_any(method, path, SIGNED_CALLBACK_ROUTES):
        return _check_body(event, headers) or Admitted(tenant_id=None, event=_canonical_media_type(event))
    tenant_or_refusal = _authenticate(header(headers, "authorization"), key_cache)
    if isinstance(tenant_or_refusal, Response):
        return tenant_or_refusal
    body_refusal = _check_body(event, headers)
    return body_refusal or Admitted(tenant_id=tenant_or_refusal, event=_canonical_media_type(event))


def _starts_with_any(method: str, path: str, prefixes: tuple[tuple[str, str], ...]) -> bool:
    return any(method == m and path.startswith(prefix) for m, prefix in prefixes)


def _authenticate(authorization: str | None, key_cache: KeyCache) -> str | Response[str]:
    if not authorization:
        return unauthorized("Send your API key as 'Authorization: Bearer <key>'.", key_was_sent=False)
    scheme, _, api_key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not api_key.strip():
        return unauthorized("The Authorization header must be 'Bearer <key>'.", key_was_sent=True)
    grant = key_cache.grant_for(hash_api_key(api_key.strip()))
    if grant is None:
        return unauthorized("The API key is not valid.", key_was_sent=True)
    expired = grant.expired_by(key_cache.clock())
    if expired is not None:
        return unauthorized(
            f"The API key expired at {to_rfc3339(expired)}: a newer key replaced it. Use the newest key.",
            key_was_sent=True,
        )
    if grant.tenant_disabled:
        return tenant_disabled(grant.tenant_id)
    return grant.tenant_id


def _check_body(event: Mapping[str, Any], headers: Mapping[str, str] | None) -> Response[str] | None:
    raw = event.get("body")
    if raw is None or raw == "":
        return None
    try:
        body = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else str(raw).encode()
    except ValueError:
        return _bad_body("The body is not valid base64, as its isBase64Encoded flag says.")
    if len(body) > MAX_BODY_BYTES:
        return problem(
            413,
            "payload-too-large",
            "Payload too large",
            f"The request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes. "
            "Send large inputs through POST /uploads.",
        )
    media_type = header(headers, "content-type") or ""
    if not is_json_media_type(media_type):
        return _unsupported(f"The body must be JSON sent as 'Content-Type: application/json', not {media_type!r}.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return _bad_body(f"The body is not UTF-8: byte {error.start} is invalid.")
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        return validation_failed(
            422,
            f"The body nests {depth} levels deep; the limit is {MAX_JSON_DEPTH}.",
            [{"pointer": "#", "detail": f"nested deeper than {MAX_JSON_DEPTH} levels"}],
        )
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return _unsupported(f"The body is not valid JSON: {error}.")
    except ValueError:
        # Valid JSON, but an integer longer than Python converts (sys.get_int_max_str_digits()).
        detail = f"The body holds an integer of more than {sys.get_int_max_str_digits()} digits."
        return validation_failed(422, detail, [{"pointer": "#", "detail": detail}])
    return None


def is_json_media_type(content_type: str) -> bool:
    """`application/json` or `application/<x>+json`, in any case, with at most a UTF-8 charset."""
    media_type, *parameters = (part.strip().lower() for part in content_type.split(";"))
    if not _JSON_MEDIA_TYPE_PATTERN.match(media_type):
        return False
    return all(_CHARSET_PATTERN.match(parameter) for parameter in parameters if parameter)


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects, counted without parsing (brackets in strings skipped)."""
    brackets = _JSON_STRING_PATTERN.sub(b"", body).translate(None, _JSON_BRACKETS)
    return max(accumulate((1 if bracket in b"[{" else -1 for bracket in brackets), initial=0))


def _canonical_media_type(event: Mapping[str, Any]) -> Mapping[str, Any]:
    headers = event.get("headers") or {}
    names = [name for name in headers if name.lower() == "content-type"]
    if not event.get("body") or not names or headers[names[0]] == JSON_MEDIA_TYPE:
        return event
    canonical = copy.copy(dict(event))
    canonical["headers"] = {**{k: v for k, v in headers.items() if k not in names}, "content-type": JSON_MEDIA_TYPE}
    return canonical


def _bad_body(detail: str) -> Response[str]:
    return validation_failed(400, detail, [{"pointer": "#", "detail": detail}])


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
