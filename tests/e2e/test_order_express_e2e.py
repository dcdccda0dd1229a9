"""order-fulfillment on Express, cut off for real: its run outlives the machine's TimeoutSeconds.

The payment simulator's `tok_stuck` takes 8 s to charge, the Express machine's TimeoutSeconds
is 5 s here: the execution ends mid-charge, with no event and no Catch. The charge still
happens (the task's invocation runs on, as on AWS); the job sweeper, once no run of the job
can still be going, starts the Standard machine, which undoes what the cut-off run did and
ends the job. Both orders start together (a module fixture), so the two tests wait once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jobgate.jobtypes.order_fulfillment.store import StockStore
from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import API_KEY, Client, aws_clients, start_local_stack
from tests.e2e.test_order_fulfillment_e2e import UNDONE_AFTER_CHARGING, Provider, new_sku, order, steps, submit

# Longer than the stuck charge plus its recording, so the cut-off run's last task has ended
# (and its charge is found) when the undo begins: SweepIdleSeconds > the task functions' work.
SWEEP_IDLE_SECONDS = "10"


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    # Time scale 0.1: the sweeper runs every 6 s, retry intervals are 1 s.
    stack = start_local_stack(
        time_scale=0.1,
        parameter_overrides={"ExpressJobTimeoutSeconds": "5", "SweepIdleSeconds": SWEEP_IDLE_SECONDS},
    )
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def stuck_orders(local_stack: LocalStack) -> dict[str, Any]:
    """Two orders whose Express runs are cut off mid-charge; the second one's owner cancels it."""
    client = Client(local_stack.api_url, API_KEY)
    stock = StockStore(aws_clients(local_stack)("dynamodb"), "StockTable")
    left, cancelled = new_sku(stock, 3), new_sku(stock, 3)
    orders = {"left": (submit(client, order({left: 2}, card="tok_stuck")), left)}
    orders["cancelled"] = (submit(client, order({cancelled: 1}, card="tok_stuck")), cancelled)
    job_id = orders["cancelled"][0]
    client.wait_for(job_id, lambda j: steps(j)["charge-payment"] == "running")
    assert client.request("DELETE", f"/jobs/{job_id}").json()["status"] == "cancelling"
    return {"client": client, "stock": stock, "orders": orders}


def terminal_events(client: Client, job_id: str) -> list[str]:
    events = client.request("GET", f"/jobs/{job_id}/events", params={"limit": 100}).json()["items"]
    return [e["type"] for e in events if e["type"] in {"job.succeeded", "job.failed", "job.cancelled"}]


def assert_undone(stack: LocalStack, stuck_orders: dict[str, Any], order_name: str, status: str) -> dict[str, Any]:
    """The order ended `status` with what its cut-off run did undone: the charge made after the
    cut-off refunded, the stock given back, nothing shipped; one terminal event. The job."""
    client, stock = stuck_orders["client"], stuck_orders["stock"]
    job_id, sku = stuck_orders["orders"][order_name]
    job: dict[str, Any] = client.wait_until_terminal(job_id, timeout=60)
    assert job["status"] == status, job.get("error")
    assert steps(job) == UNDONE_AFTER_CHARGING
    payments = Provider(stack, "PAYMENT_PROVIDER_URL")
    assert [(c["path"].endswith("/refunds"), c["status"]) for c in payments.calls(job_id)] == [
        (False, 201),
        (True, 201),
    ]
    assert Provider(stack, "SHIPPING_PROVIDER_URL").calls(job_id) == []
    assert stock.available(sku) == 3
    assert terminal_events(client, job_id) == [f"job.{status}"]
    return job


def test_an_order_cut_off_mid_charge_is_refunded_released_and_failed(
    stuck_orders: dict[str, Any], local_stack: LocalStack
) -> None:
    job = assert_undone(local_stack, stuck_orders, "left", "failed")
    # The job says its run was cut off
    assert job["error"]["type"] == "execution-timed-out"
    assert "Express execution started more than 5 s ago" in job["error"]["detail"]


def test_an_order_cancelled_then_cut_off_is_undone_and_cancelled(
    stuck_orders: dict[str, Any], local_stack: LocalStack
) -> None:
    job = assert_undone(local_stack, stuck_orders, "cancelled", "cancelled")
    charge = next(s for s in job["progress"]["steps"] if s["name"] == "charge-payment")
    assert "refundId" in charge["detail"]["compensation"]
