"""GET /console and GET /console/{asset}: the web console, static files shipped with the function.

The page and its assets are public: the page signs in with an API key the user types and
sends it as `Authorization: Bearer` on each call it makes to the API, with relative URLs, so
it works under any stage path and in the local stack alike. The files are read on the first
request for each (app.py imports this module only then), so a cold start of the API reads
nothing of the console. Every answer carries a strict Content-Security-Policy: only the
console's own files may run, style or be fetched, and no one may frame the page.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response

from jobgate_api.problems import problem

ASSETS_DIRECTORY = Path(__file__).parent / "assets"
PAGE = "index.html"
# The assets the page loads, by the name in its URL; nothing else under assets/ is served.
ASSET_MEDIA_TYPES = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        # The forms are handled by the script; should it not run, no form may send the key anywhere.
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidated on every load, so a deployment's new console is used at once.
    "Cache-Control": "no-cache",
}


def page() -> Response[str]:
    return _file_response(PAGE, "text/html; charset=utf-8")


def asset(name: str) -> Response[str]:
    media_type = ASSET_MEDIA_TYPES.get(name)
    if media_type is None:
        return problem(404, "not-found", "Not found", f"The console has no file {name!r}.")
    return _file_response(name, media_type)


def _file_response(name: str, media_type: str) -> Response[str]:
    return Response(200, media_type, _read(name), dict(SECURITY_HEADERS))


@cache
def _read(name: str) -> str:
    return (ASSETS_DIRECTORY / name).read_text(encoding="utf-8")
