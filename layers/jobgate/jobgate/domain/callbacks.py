"""Callback URLs are untrusted input: the checks that need no network (WEBHOOKS.md, at submit)."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_CALLBACK_URL_LENGTH = 2048
MIN_UNPRIVILEGED_PORT = 1024


def check_callback_url(url: str) -> str:
    """Return the URL if acceptable, else raise ValueError saying why (422 at submit)."""
    if len(url) > MAX_CALLBACK_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_CALLBACK_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"is not a valid URL ({error})") from None
    if parts.scheme != "https":
        raise ValueError("must use https")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain user information")
    if port is not None and port != 443 and not MIN_UNPRIVILEGED_PORT <= port <= 65535:
        raise ValueError("must use port 443 or a port from 1024 to 65535")
    if parts.fragment:
        raise ValueError("must not contain a fragment")
    return url
