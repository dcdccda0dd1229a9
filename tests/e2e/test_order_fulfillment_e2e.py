"""order-fulfillment end to end: the saga, its compensations, cancel, and stock under concurrency.

The payment and shipping providers are the local stack's simulators, driven by their magic
test values (tok_declined, tok_down, postcode 00000...); what they were asked is read from
their call logs (GET /_sandbox/calls), the stock from the StockTable.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from jobgate.jobtypes.order_fulfillment.store import StockStore
from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import Client, aws_clients, start_local_stack

JOB_TYPE = "order-fulfillment"


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    # Retry intervals of 1 s (their minimum) keep the retried failures quick.
    stack = start_local_stack(time_scale=0.1)
    yield stack
    stack.stop()


@pytest.fixture
def stock(local_stack: LocalStack) -> StockStore:
    return StockStore(aws_clients(local_stack)("dynamodb"), "StockTable")


class Provider:
    """A simulator, as the order functions reach it, and its call log."""

    def __init__(self, stack: LocalStack, variable: str) -> None:
        assert stack.template is not None
        self.url = stack.template.function_by_name("OrderPartnersFunction").environment[variable]

    def calls(self, job_id: str) -> list[dict[str, Any]]:
        """The requests made for one job (those carrying an idempotency key derived from its id)."""
        items: list[dict[str, Any]] = requests.get(f"{self.url}/_sandbox/calls", timeout=5).json()["items"]
        return [c for c in items if (c["idempotencyKey"] or "").startswith(job_id)]


@pytest.fixture
def payments(local_stack: LocalStack) -> Provider:
    return Provider(local_stack, "PAYMENT_PROVIDER_URL")


@pytest.fixture
def shipping(local_stack: LocalStack) -> Provider:
    return Provider(local_stack, "SHIPPING_PROVIDER_URL")


def new_sku(stock: StockStore, available: int) -> str:
    sku = f"sku-{uuid.uuid4().hex[:8]}"
    stock.set_available(sku, available)
    return sku


def order(items: dict[str, int], card: str = "tok_visa", postcode: str = "75011", amount: int = 2500) -> dict[str, Any]:
    return {
        "items": [{"sku": sku, "quantity": quantity} for sku, quantity in items.items()],
        "payment": {"cardToken": card, "amount": amount, "currency": "EUR"},
        "shipping": {
            "name": "Ada Lovelace",
            "address": "12 rue Oberkampf, Paris",
            "postcode": postcode,
            "country": "FR",
        },
    }


def submit(client: Client, job_input: dict[str, Any]) -> str:
    response = client.request("POST", "/jobs", json={"type": JOB_TYPE, "input": job_input})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


# The steps of an order undone after it charged: stock released, charge refunded.
UNDONE_AFTER_CHARGING = {
    "reserve-inventory": "compensated",
    "charge-payment": "compensated",
    "create-shipment": "pending",
    "confirm-order": "pending",
}


def steps(job: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in job["progress"]["steps"]}


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in job["progress"]["steps"] if s["name"] == name)
    return found


def step_events(client: Client, job_id: str, status: str) -> list[str]:
    """The steps that reached `status`, in the order the job's events recorded it."""
    events = client.request("GET", f"/jobs/{job_id}/events", params={"limit": 100}).json()["items"]
    names: list[str] = []
    for event in events:
        if event["type"] != "job.step":
            continue
        job_steps = event["data"]["job"]["progress"]["steps"]
        message = event["data"]["job"]["progress"]["message"]
        for s in job_steps:
            if s["status"] == status and message == f"{s['name']}: {status}." and s["name"] not in names:
                names.append(s["name"])
    return names


def test_an_order_reserves_charges_ships_and_confirms(
    client: Client, stock: StockStore, payments: Provider, shipping: Provider
) -> None:
    mug, tee = new_sku(stock, 5), new_sku(stock, 3)
    job_id = submit(client, order({mug: 2, tee: 1}))
    job = client.wait_until_terminal(job_id)
    assert job["status"] == "succeeded", job.get("error")
    assert steps(job) == dict.fromkeys(
        ("reserve-inventory", "charge-payment", "create-shipment", "confirm-order"), "succeeded"
    )
    assert (stock.available(mug), stock.available(tee)) == (3, 2)
    result = client.request("GET", f"/jobs/{job_id}/result").json()
    assert result["orderId"].startswith("ord_")
    assert result["chargeId"] == step(job, "charge-payment")["detail"]["chargeId"]
    assert result["shipmentId"] == step(job, "create-shipment")["detail"]["shipmentId"]
    assert (result["amount"], result["currency"]) == (2500, "EUR")
    [charge] = payments.calls(job_id)
    assert (charge["path"], charge["status"], charge["idempotencyKey"]) == ("/charges", 201, f"{job_id}:charge")
    [shipment] = shipping.calls(job_id)
    assert (shipment["path"], shipment["status"]) == ("/shipments", 201)


def test_out_of_stock_charges_nothing_and_reserves_nothing(
    client: Client, stock: StockStore, payments: Provider
) -> None:
    plenty, scarce = new_sku(stock, 5), new_sku(stock, 1)
    job_id = submit(client, order({plenty: 1, scarce: 2}))
    job = client.wait_until_terminal(job_id)
    assert job["status"] == "failed"
    assert (job["error"]["type"], job["error"]["step"]) == ("OutOfStock", "reserve-inventory")
    assert f"{scarce}: 2 requested, 1 available" in job["error"]["detail"]
    assert steps(job) == {
        "reserve-inventory": "failed",
        "charge-payment": "pending",
        "create-shipment": "pending",
        "confirm-order": "pending",
    }
    # All or nothing: the line that was in stock was not taken either.
    assert (stock.available(plenty), stock.available(scarce)) == (5, 1)
    assert payments.calls(job_id) == []


def test_a_declined_card_releases_the_stock(client: Client, stock: StockStore, payments: Provider) -> None:
    sku = new_sku(stock, 4)
    job_id = submit(client, order({sku: 3}, card="tok_declined"))
    job = client.wait_until_terminal(job_id)
    assert job["status"] == "failed"
    assert (job["error"]["type"], job["error"]["step"]) == ("CardDeclined", "charge-payment")
    assert steps(job) == {
        "reserve-inventory": "compensated",
        "charge-payment": "failed",
        "create-shipment": "pending",
        "confirm-order": "pending",
    }
    assert step(job, "reserve-inventory")["detail"]["compensation"] == {"released": [{"sku": sku, "quantity": 3}]}
    assert stock.available(sku) == 4
    assert [c["status"] for c in payments.calls(job_id)] == [402]  # nothing charged, nothing to refund


def test_an_unknown_postcode_refunds_then_releases(
    client: Client, stock: StockStore, payments: Provider, shipping: Provider
) -> None:
    sku = new_sku(stock, 2)
    job_id = submit(client, order({sku: 2}, postcode="00000"))
    job = client.wait_until_terminal(job_id)
    assert job["status"] == "failed"
    assert (job["error"]["type"], job["error"]["step"]) == ("UnknownPostcode", "create-shipment")
    assert steps(job) == {
        "reserve-inventory": "compensated",
        "charge-payment": "compensated",
        "create-shipment": "failed",
        "confirm-order": "pending",
    }
    # Undone in reverse order: the refund, then the stock.
    assert step_events(client, job_id, "compensated") == ["charge-payment", "reserve-inventory"]
    charge_id = step(job, "charge-payment")["detail"]["chargeId"]
    refund_id = step(job, "charge-payment")["detail"]["compensation"]["refundId"]
    writes = [(c["method"], c["path"], c["status"]) for c in payments.calls(job_id)]
    assert writes == [("POST", "/charges", 201), ("POST", f"/charges/{charge_id}/refunds", 201)]
    assert refund_id.startswith("re_")
    assert [c["status"] for c in shipping.calls(job_id)] == [422]
    assert stock.available(sku) == 2


def test_a_provider_that_stays_down_is_retried_then_compensated(
    client: Client, stock: StockStore, payments: Provider
) -> None:
    sku = new_sku(stock, 1)
    job_id = submit(client, order({sku: 1}, card="tok_down"))
    job = client.wait_until_terminal(job_id)
    assert job["status"] == "failed"
    assert (job["error"]["type"], job["error"]["step"]) == ("PaymentProviderUnavailable", "charge-payment")
    attempts = [c["status"] for c in payments.calls(job_id)]
    assert attempts == [503, 503, 503, 503]  # the first attempt and the state machine's 3 retries
    assert step(job, "charge-payment")["attempts"] == 4
    assert steps(job)["reserve-inventory"] == "compensated"
    assert stock.available(sku) == 1


def test_a_retried_charge_never_charges_twice(client: Client, stock: StockStore, payments: Provider) -> None:
    sku = new_sku(stock, 1)
    job_id = submit(client, order({sku: 1}, card="tok_flaky"))
    job = client.wait_until_terminal(job_id)
    assert job["status"] == "succeeded", job.get("error")
    calls = payments.calls(job_id)
    assert [c["status"] for c in calls] == [503, 503, 201]
    assert {c["idempotencyKey"] for c in calls} == {f"{job_id}:charge"}
    assert step(job, "charge-payment")["attempts"] == 3
    assert stock.available(sku) == 0


def test_cancel_while_charging_refunds_and_releases(
    client: Client, stock: StockStore, payments: Provider, shipping: Provider
) -> None:
    sku = new_sku(stock, 3)
    job_id = submit(client, order({sku: 2}, card="tok_slow"))
    client.wait_for(job_id, lambda j: steps(j)["charge-payment"] == "running")
    response = client.request("DELETE", f"/jobs/{job_id}")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelling"
    job = client.wait_until_terminal(job_id)
    assert job["status"] == "cancelled"
    assert steps(job) == UNDONE_AFTER_CHARGING
    assert step_events(client, job_id, "compensated") == ["charge-payment", "reserve-inventory"]
    assert [(c["path"].endswith("/refunds"), c["status"]) for c in payments.calls(job_id)] == [
        (False, 201),
        (True, 201),
    ]
    assert shipping.calls(job_id) == []
    assert stock.available(sku) == 3


def test_a_refund_that_keeps_failing_is_reported_not_hidden(
    client: Client, stock: StockStore, payments: Provider
) -> None:
    sku = new_sku(stock, 2)
    job_id = submit(client, order({sku: 1}, card="tok_refund_fails", postcode="00000"))
    job = client.wait_until_terminal(job_id)
    assert job["status"] == "failed"
    error = job["error"]
    assert (error["type"], error["step"]) == ("CompensationFailed", "create-shipment")
    assert "refund-payment (undoing charge-payment) failed" in error["detail"]
    assert "charge-payment was NOT undone" in error["detail"]
    assert "UnknownPostcode" in error["detail"]
    assert "Undone: reserve-inventory" in error["detail"]
    assert steps(job) == {
        "reserve-inventory": "compensated",
        "charge-payment": "succeeded",
        "create-shipment": "failed",
        "confirm-order": "pending",
    }
    assert "answered 500" in step(job, "charge-payment")["detail"]["compensation"]["failed"]
    refunds = [c["status"] for c in payments.calls(job_id) if c["path"].endswith("/refunds")]
    assert refunds == [500, 500, 500]  # the first attempt and 2 retries
    assert stock.available(sku) == 2  # the stock was still released


def test_concurrent_orders_for_one_sku_never_oversell(client: Client, stock: StockStore) -> None:
    sku = new_sku(stock, 5)
    with ThreadPoolExecutor(max_workers=8) as pool:
        job_ids = list(pool.map(lambda _: submit(client, order({sku: 1})), range(8)))
        jobs = list(pool.map(lambda job_id: client.wait_until_terminal(job_id, timeout=50), job_ids))
    outcomes = sorted(job["status"] for job in jobs)
    assert outcomes == ["failed"] * 3 + ["succeeded"] * 5
    assert {job["error"]["type"] for job in jobs if job["status"] == "failed"} == {"OutOfStock"}
    assert stock.available(sku) == 0
