"""GET /console: the web console's page and files, public, each under a strict Content-Security-Policy.

tests/e2e/test_console_e2e.py drives the console itself in headless Chromium.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest

from tests.api import ApiClient

CONSOLE_FILES = {
    "/console": "text/html",
    "/console/console.js": "text/javascript",
    "/console/console.css": "text/css",
    "/console/favicon.svg": "image/svg+xml",
}


@pytest.mark.parametrize(("path", "media_type"), CONSOLE_FILES.items())
def test_each_console_file_is_served_without_a_key_under_a_strict_policy(path: str, media_type: str) -> None:
    served = ApiClient(None).get(path)

    assert served.status == 200
    assert (served.header("Content-Type") or "").startswith(media_type)
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in (served.header("Content-Security-Policy") or "").split("; ")
    }
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert served.header("X-Content-Type-Options") == "nosniff"
    assert served.header("Referrer-Policy") == "no-referrer"


class _PageParts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_code: list[str] = []
        self._in_script_or_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        self.inline_code += [name for name in attributes if name == "style" or name.startswith("on")]
        self._in_script_or_style = tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if self._in_script_or_style and data.strip():
            self.inline_code.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script_or_style = False


@pytest.mark.parametrize("path", ["/console", "/console/console.js", "/docs"])
def test_head_of_a_public_page_is_its_get_without_a_body(path: str) -> None:
    got, head = ApiClient(None).get(path), ApiClient(None).request("HEAD", path)

    assert (head.status, head.text) == (200, "")
    assert head.headers == got.headers


def test_the_page_loads_only_its_own_files_by_relative_urls() -> None:
    """Relative URLs work under any stage path; inline code would be refused by the policy."""
    parts = _PageParts()
    parts.feed(ApiClient(None).get("/console").text)

    assert parts.inline_code == []
    assets = [url for url in parts.urls if not url.startswith("#")]
    assert set(assets) == {"console/console.js", "console/console.css", "console/favicon.svg"}


def test_the_script_calls_the_api_by_relative_urls_only() -> None:
    script = ApiClient(None).get("/console/console.js").text
    assert not re.search(r"""fetch\(\s*["'`]/|https?://""", script)


def test_the_page_with_a_trailing_slash_redirects_to_the_page() -> None:
    served = ApiClient(None).get("/console/")

    assert served.status == 308
    assert urljoin("https://api.example/prod/console/", served.header("Location") or "") == (
        "https://api.example/prod/console"
    )


@pytest.mark.parametrize("name", ["__init__.py", "index.html.bak", "..%2Fapp.py", "assets", "nested/console.js"])
def test_a_file_the_console_does_not_serve_is_a_404_problem(name: str) -> None:
    served = ApiClient(None).get(f"/console/{name}")

    assert served.status == 404
    assert served.header("Content-Type") == "application/problem+json"
    assert served.json["type"] == "urn:jobgate:problem:not-found"


def test_the_console_grants_no_access_to_the_api_without_a_key() -> None:
    assert ApiClient(None).get("/jobs").status == 401
    assert ApiClient(None).get("/consoles").status == 401
