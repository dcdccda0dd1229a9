"""Payment provider sandbox: charges and refunds, idempotent by the `Idempotency-Key` header.

    POST /charges                {cardToken, amount, currency, reference} -> 201 charge
    GET  /charges?idempotencyKey=K                                        -> {"items": [charge]}
    POST /charges/{id}/refunds                                            -> 201 refund

A repeated key gets the first answer again (never a second charge); a 5xx is not
remembered, so a retry after it is a new attempt. Magic card tokens, like test cards:

- `tok_declined`: 402 card_declined.
- `tok_flaky`: 503 for the first 2 attempts of an idempotency key, then the charge works.
- `tok_down`: 503, always.
- `tok_slow`: the charge takes SLOW_SECONDS, then works.
- `tok_stuck`: the charge takes STUCK_SECONDS (past a short Express TimeoutSeconds, within the
  order functions' provider timeout), then works: an Express run is cut off mid-charge.
- `tok_refund_fails`: the charge works; refunding it answers 500, always.
Any other token is charged.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, request

from jobgate_cli.simulators.sandbox import IDEMPOTENCY_HEADER, Sandbox, add_call_log, problem

SLOW_SECONDS = 2.0
STUCK_SECONDS = 8.0
FLAKY_FAILURES = 2
DELAYS = {"tok_slow": SLOW_SECONDS, "tok_stuck": STUCK_SECONDS}


def create_app() -> Flask:
    app = Flask("payment-simulator")
    sandbox = Sandbox()
    charges: dict[str, dict[str, Any]] = {}

    @app.post("/charges")
    def create_charge() -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        body: dict[str, Any] = request.get_json(silent=True) or {}
        if not key:
            return sandbox.reply(*problem(400, "idempotency_key_required", "Send an Idempotency-Key header."))
        token = str(body.get("cardToken", ""))
        with sandbox.lock:
            sandbox.attempts[key] += 1
            attempt = sandbox.attempts[key]
        replayed = sandbox.replayed(key)
        if replayed is not None:
            return replayed
        if token == "tok_down" or (token == "tok_flaky" and attempt <= FLAKY_FAILURES):
            return sandbox.reply(*problem(503, "unavailable", "The payment service is unavailable."))
        if token in DELAYS:
            time.sleep(DELAYS[token])
        if token == "tok_declined":
            status, answer = problem(402, "card_declined", "Your card was declined.")
        else:
            charge = {
                "id": sandbox.new_id("ch"),
                "status": "captured",
                "amount": body.get("amount"),
                "currency": body.get("currency"),
                "cardToken": token,
                "reference": body.get("reference"),
                "idempotencyKey": key,
            }
            status, answer = 201, charge
        return sandbox.settle(key, status, answer, charges)

    @app.get("/charges")
    def find_charges() -> Response:
        return sandbox.find_by_key(charges)

    @app.post("/charges/<charge_id>/refunds")
    def refund(charge_id: str) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if not key:
            return sandbox.reply(*problem(400, "idempotency_key_required", "Send an Idempotency-Key header."))
        with sandbox.lock:
            charge = charges.get(charge_id)
        replayed = sandbox.replayed(key)
        if replayed is not None:
            return replayed
        if charge is None:
            return sandbox.reply(*problem(404, "no_such_charge", f"No charge {charge_id}."))
        if charge["cardToken"] == "tok_refund_fails":
            return sandbox.reply(*problem(500, "refund_failed", "The refund could not be processed."))
        answer = {"id": sandbox.new_id("re"), "chargeId": charge_id, "amount": charge["amount"], "status": "succeeded"}
        with sandbox.lock:
            status, answer = sandbox.replies.setdefault(key, (201, answer))
            charge["status"] = "refunded"
        return sandbox.reply(status, answer)

    add_call_log(app, sandbox)
    return app
