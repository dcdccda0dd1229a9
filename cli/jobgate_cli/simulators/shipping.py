"""Shipping provider sandbox: shipments, idempotent by the `Idempotency-Key` header.

    POST /shipments                {recipient, items, reference} -> 201 shipment
    GET  /shipments?idempotencyKey=K                             -> {"items": [shipment]}
    POST /shipments/{id}/cancel                                  -> 200 shipment (cancelled)

Magic values, like a carrier's test data:

- recipient postcode `00000`: 422 unknown_postcode.
Cancelling a shipment always works (and cancelling it twice too).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from jobgate_cli.simulators.sandbox import IDEMPOTENCY_HEADER, Sandbox, add_call_log, problem

UNKNOWN_POSTCODE = "00000"


def create_app() -> Flask:
    app = Flask("shipping-simulator")
    sandbox = Sandbox()
    shipments: dict[str, dict[str, Any]] = {}

    @app.post("/shipments")
    def create_shipment() -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        body: dict[str, Any] = request.get_json(silent=True) or {}
        if not key:
            return sandbox.reply(*problem(400, "idempotency_key_required", "Send an Idempotency-Key header."))
        replayed = sandbox.replayed(key)
        if replayed is not None:
            return replayed
        recipient: dict[str, Any] = body.get("recipient") or {}
        postcode = str(recipient.get("postcode", ""))
        if postcode == UNKNOWN_POSTCODE:
            status, answer = problem(422, "unknown_postcode", f"Postcode {postcode} is not a known postcode.")
        else:
            shipment_id = sandbox.new_id("shp")
            answer = {
                "id": shipment_id,
                "status": "created",
                "trackingNumber": "TRK" + shipment_id.removeprefix("shp_"),
                "recipient": recipient,
                "items": body.get("items") or [],
                "reference": body.get("reference"),
                "idempotencyKey": key,
            }
            status = 201
        return sandbox.settle(key, status, answer, shipments)

    @app.get("/shipments")
    def find_shipments() -> Response:
        return sandbox.find_by_key(shipments)

    @app.post("/shipments/<shipment_id>/cancel")
    def cancel(shipment_id: str) -> Response:
        with sandbox.lock:
            shipment = shipments.get(shipment_id)
            if shipment is not None:
                shipment["status"] = "cancelled"
                answer = dict(shipment)
        if shipment is None:
            return sandbox.reply(*problem(404, "no_such_shipment", f"No shipment {shipment_id}."))
        return sandbox.reply(200, answer)

    add_call_log(app, sandbox)
    return app
