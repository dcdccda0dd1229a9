"""The vendors' HTTP API: one base URL, each vendor at ``<base>/<vendor>/checks``."""

from __future__ import annotations

from typing import Any

import requests

from jobgate.jobtypes.background_check.models import Candidate, Vendor

# Connect and read timeouts: a vendor only has to acknowledge the request here.
REQUEST_TIMEOUT = (3.0, 10.0)
# Answers a retry may fix; anything else in 4xx is our request's fault.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class VendorUnavailable(Exception):
    """The vendor could not be reached or answered with a passing error; the state machine retries."""


class VendorRequestRejected(Exception):
    """The vendor refused the request for good (a 4xx); retrying would not help."""


class VendorApi:
    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._session = session or requests.Session()

    def request_check(self, vendor: Vendor, candidate: Candidate, callback_url: str, reference: str) -> str | None:
        """Ask a vendor to check a candidate; it answers later at callback_url. Returns its check id."""
        body: dict[str, Any] = {
            "candidate": candidate.model_dump(mode="json", by_alias=True, exclude_none=True),
            "callbackUrl": callback_url,
            "reference": reference,
        }
        url = f"{self._base_url}/{vendor.value}/checks"
        try:
            response = self._session.post(url, json=body, timeout=REQUEST_TIMEOUT, allow_redirects=False)
        except requests.RequestException as error:
            raise VendorUnavailable(f"{vendor.value} vendor unreachable: {type(error).__name__}") from None
        if response.status_code in RETRYABLE_STATUSES:
            raise VendorUnavailable(f"{vendor.value} vendor answered {response.status_code}")
        if not 200 <= response.status_code < 300:
            raise VendorRequestRejected(f"{vendor.value} vendor refused the request with {response.status_code}")
        try:
            check_id = response.json().get("id")
        except ValueError:
            return None
        return str(check_id) if check_id is not None else None
