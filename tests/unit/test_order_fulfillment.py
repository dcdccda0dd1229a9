"""order-fulfillment's pure parts: the input model, the rollback report, and the provider sandboxes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from jobgate.domain.workflow_errors import readable_cause
from jobgate.jobtypes.order_fulfillment import JOB_TYPE
from jobgate.jobtypes.order_fulfillment.models import OrderInput
from jobgate.jobtypes.order_fulfillment.workflow import CompensationFailure, SagaTask, describe_rollback
from jobgate_cli.simulators import payment, shipping
from tests.conftest import load_event

ORDER: dict[str, Any] = {
    "items": [{"sku": "mug", "quantity": 2}],
    "payment": {"cardToken": "tok_visa", "amount": 2500, "currency": "EUR"},
    "shipping": {"name": "Ada", "address": "1 Main St", "postcode": "75011", "country": "FR"},
}


def test_an_order_lists_its_four_steps_and_cancels_cooperatively() -> None:
    validated = OrderInput.model_validate(ORDER)
    assert JOB_TYPE.step_names(validated) == ["reserve-inventory", "charge-payment", "create-shipment", "confirm-order"]
    assert JOB_TYPE.stop_on_cancel is False
    assert validated.model_dump(by_alias=True)["payment"]["cardToken"] == "tok_visa"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"coupon": "X"}, "Extra inputs are not permitted"),
        ({"items": []}, "at least 1 item"),
        ({"items": [{"sku": "mug", "quantity": 1}, {"sku": "mug", "quantity": 2}]}, "each sku may appear once"),
        ({"payment": {**ORDER["payment"], "amount": 0}}, "greater than 0"),
        ({"payment": {**ORDER["payment"], "currency": "euro"}}, "should match pattern"),
        ({"shipping": {**ORDER["shipping"], "phone": "1"}}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_orders_are_refused(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        OrderInput.model_validate({**ORDER, **change})


def test_a_failed_rollback_says_what_was_not_undone_and_what_was() -> None:
    report = describe_rollback(
        "create-shipment failed (UnknownPostcode: postcode 00000 is unknown)",
        [CompensationFailure("refund-payment", "charge-payment", "the payment provider answered 500.")],
        ["reserve-inventory"],
    )
    assert report == (
        "create-shipment failed (UnknownPostcode: postcode 00000 is unknown). Rolling back did not complete: "
        "refund-payment (undoing charge-payment) failed after retries, so charge-payment was NOT undone: "
        "the payment provider answered 500. Undone: reserve-inventory."
    )


def test_a_lambda_cause_is_reduced_to_its_message() -> None:
    cause = json.dumps({"errorMessage": "The card was declined.", "errorType": "CardDeclined", "stackTrace": ["..."]})
    assert readable_cause(cause) == "The card was declined."
    assert readable_cause("plain text") == "plain text"
    assert readable_cause(None) == "no detail was reported"


def charge(client: Any, token: str, key: str) -> Any:
    return client.post(
        "/charges", json={"cardToken": token, "amount": 100, "currency": "EUR"}, headers={"Idempotency-Key": key}
    )


def test_the_payment_sandbox_replays_a_key_and_fails_on_magic_tokens() -> None:
    client = payment.create_app().test_client()
    first = charge(client, "tok_visa", "k1")
    assert first.status_code == 201
    assert charge(client, "tok_visa", "k1").get_json()["id"] == first.get_json()["id"]  # never charged twice
    assert charge(client, "tok_declined", "k2").status_code == 402
    assert [charge(client, "tok_flaky", "k3").status_code for _ in range(4)] == [503, 503, 201, 201]
    assert {charge(client, "tok_down", "k4").status_code for _ in range(3)} == {503}
    found = client.get("/charges", query_string={"idempotencyKey": "k1"}).get_json()["items"]
    assert [c["id"] for c in found] == [first.get_json()["id"]]
    refund = client.post(f"/charges/{first.get_json()['id']}/refunds", headers={"Idempotency-Key": "r1"})
    assert refund.status_code == 201
    doomed = charge(client, "tok_refund_fails", "k5").get_json()["id"]
    assert client.post(f"/charges/{doomed}/refunds", headers={"Idempotency-Key": "r2"}).status_code == 500
    log = client.get("/_sandbox/calls").get_json()["items"]
    assert [c["status"] for c in log if c["idempotencyKey"] == "k3"] == [503, 503, 201, 201]


def test_the_shipping_sandbox_refuses_postcode_00000_and_cancels() -> None:
    client = shipping.create_app().test_client()
    body: dict[str, Any] = {"recipient": {"name": "Ada", "postcode": "00000"}, "items": []}
    assert client.post("/shipments", json=body, headers={"Idempotency-Key": "s1"}).status_code == 422
    body["recipient"] = {"name": "Ada", "postcode": "75011"}
    created = client.post("/shipments", json=body, headers={"Idempotency-Key": "s2"}).get_json()
    assert created["status"] == "created"
    cancelled = client.post(f"/shipments/{created['id']}/cancel")
    assert cancelled.get_json()["status"] == "cancelled"
    found = client.get("/shipments", query_string={"idempotencyKey": "s2"}).get_json()["items"]
    assert [s["status"] for s in found] == ["cancelled"]


@pytest.mark.parametrize("name", ["order_stock_reserve_inventory.json", "order_partners_charge_payment.json"])
def test_the_sample_events_are_tasks_the_functions_accept(name: str) -> None:
    task = SagaTask.model_validate(load_event(name))
    assert task.saga.input.items[0].sku == "mug"
