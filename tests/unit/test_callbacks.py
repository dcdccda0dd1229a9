"""Callback URLs: the submit-time rules of WEBHOOKS.md (no network needed)."""

from __future__ import annotations

import pytest

from jobgate.domain.callbacks import check_callback_url


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/jobgate", "https://hooks.example.com:8443/x?y=1", "https://example.com:443/"],
)
def test_acceptable_urls_pass(url: str) -> None:
    assert check_callback_url(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
        ("https://user:pw@hooks.example.com/x", "user information"),
        ("https://hooks.example.com:22/x", "port"),
        ("https://hooks.example.com:80/x", "port"),
        ("https://hooks.example.com:99999/x", "valid URL"),
        ("https:///nohost", "host"),
        ("https://example.com/" + "a" * 2048, "2048"),
    ],
)
def test_unacceptable_urls_say_why(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_callback_url(url)
