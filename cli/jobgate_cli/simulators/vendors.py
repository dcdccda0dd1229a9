"""Background-check vendors' sandbox: identity, criminal, employment and education at /<vendor>/checks.

A check request is acknowledged with 202 at once; a moment later the vendor POSTs its
finding to the request's callbackUrl, signed with the deployment's vendor secret
(X-Vendor-Signature, see jobgate.jobtypes.background_check.signing). Magic values in the
candidate's fullName, like a provider's test data:

- "Record": the criminal vendor finds a record (record_found); every other finding is clear.
- "Silent": the employment vendor never answers (the check times out: inconclusive).
- "Twice": every vendor sends its answer twice (the second must be ignored).
- "Down": the identity vendor answers 503 to every check request (unreachable: inconclusive).

The secret is the local stack's `VendorCallbackSecret` (the template's Secrets Manager secret,
generated at each start): the stack hands it over as an operator hands it to real vendors.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from secrets import token_hex
from typing import Any

import requests
from flask import Flask, Response, request

from jobgate.jobtypes.background_check import signing
from jobgate.jobtypes.background_check.models import Finding, Vendor

# The template's resource (logical id) holding the secret vendors sign with.
SECRET_RESOURCE = "VendorCallbackSecret"
# How long a vendor "works" before it calls back.
ANSWER_DELAY_SECONDS = 0.3
DUPLICATE_DELAY_SECONDS = 0.2


def finding_for(vendor: Vendor, full_name: str) -> Finding:
    if vendor is Vendor.CRIMINAL and "Record" in full_name:
        return Finding.RECORD_FOUND
    return Finding.CLEAR


def answers(vendor: Vendor, full_name: str) -> int:
    """How many times the vendor calls back: 0 (silent), 1, or 2 (a duplicate)."""
    if vendor is Vendor.EMPLOYMENT and "Silent" in full_name:
        return 0
    return 2 if "Twice" in full_name else 1


def create_app(secrets: Mapping[str, str]) -> Flask:
    vendor_secret = secrets[SECRET_RESOURCE]
    app = Flask("vendor-simulator")

    def call_back(callback_url: str, body: bytes, times: int) -> None:
        callback_id = callback_url.rstrip("/").rsplit("/", 1)[-1]
        for attempt in range(times):
            if attempt:
                threading.Event().wait(DUPLICATE_DELAY_SECONDS)
            headers = {
                "Content-Type": "application/json",
                signing.SIGNATURE_HEADER: signing.sign(vendor_secret, callback_id, body),
            }
            try:
                requests.post(callback_url, data=body, headers=headers, timeout=10)
            except requests.RequestException:
                app.logger.warning("callback to %s failed", callback_url)

    @app.post("/<vendor_name>/checks")
    def request_check(vendor_name: str) -> Response:
        try:
            vendor = Vendor(vendor_name)
        except ValueError:
            return _json({"error": f"no vendor {vendor_name!r}"}, 404)
        payload: Any = request.get_json(silent=True)
        if not isinstance(payload, dict) or not isinstance(payload.get("callbackUrl"), str):
            return _json({"error": "a JSON body with callbackUrl and candidate is required"}, 400)
        full_name = str((payload.get("candidate") or {}).get("fullName", ""))
        if vendor is Vendor.IDENTITY and "Down" in full_name:
            return _json({"error": "temporarily unavailable"}, 503)
        check_id = f"{vendor.value}_{token_hex(6)}"
        body = json.dumps(
            {"vendor": vendor.value, "finding": finding_for(vendor, full_name).value, "reference": check_id}
        ).encode()
        timer = threading.Timer(
            ANSWER_DELAY_SECONDS, call_back, args=(payload["callbackUrl"], body, answers(vendor, full_name))
        )
        timer.daemon = True
        timer.start()
        return _json({"id": check_id, "status": "pending"}, 202)

    return app


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
