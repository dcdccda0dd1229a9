"""order-fulfillment against moto: the StockTable's reservations, and a cancel that does not stop the saga."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

import order_partners
import order_stock
from jobgate.domain.errors import JobCancelled
from jobgate.jobtypes.order_fulfillment.errors import OutOfStock
from jobgate.jobtypes.order_fulfillment.store import Line, StockStore
from jobgate.store.executions import execution_arn
from jobgate.tenants import TenantCredentials
from jobgate_cli.provision import create_table_from_template
from tests.api import ApiClient
from tests.conftest import STATE_MACHINE_PREFIX, TEMPLATE, LambdaContext, create_state_machine
from tests.integration.test_submit import executions_of
from tests.integration.test_sweeper import NOTHING_DONE, sweep

STOCK_TABLE = "jobgate-test-stock"


@pytest.fixture
def stock(aws_backend: None) -> StockStore:
    client = boto3.client("dynamodb")
    create_table_from_template(client, TEMPLATE, "StockTable", STOCK_TABLE)
    return StockStore(client, STOCK_TABLE)


def test_a_reservation_takes_every_line_or_none(stock: StockStore) -> None:
    stock.set_available("mug", 5)
    stock.set_available("tee", 1)
    with pytest.raises(OutOfStock, match=r"tee: 2 requested, 1 available; cap is not stocked"):
        stock.reserve("job_1", [Line("mug", 1), Line("tee", 2), Line("cap", 1)])
    assert (stock.available("mug"), stock.available("tee")) == (5, 1)
    assert stock.release("job_1") is None  # nothing was reserved, nothing comes back


def test_a_retried_reservation_and_a_repeated_release_count_once(stock: StockStore) -> None:
    stock.set_available("mug", 5)
    assert stock.reserve("job_1", [Line("mug", 2)]) is True
    assert stock.reserve("job_1", [Line("mug", 2)]) is False  # a retry of the same task
    assert stock.available("mug") == 3
    assert stock.release("job_1") == [Line("mug", 2)]
    assert stock.release("job_1") is None
    assert stock.available("mug") == 5


def test_concurrent_reservations_never_take_more_than_there_is(stock: StockStore) -> None:
    stock.set_available("mug", 5)

    def reserve(index: int) -> bool:
        try:
            return stock.reserve(f"job_{index}", [Line("mug", 1)])
        except OutOfStock:
            return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(reserve, range(8)))
    assert outcomes.count(True) == 5
    assert stock.available("mug") == 0


ORDER = {
    "items": [{"sku": "mug", "quantity": 1}],
    "payment": {"cardToken": "tok_visa", "amount": 900, "currency": "EUR"},
    "shipping": {"name": "Ada", "address": "1 Main St", "postcode": "75011", "country": "FR"},
}


@pytest.fixture
def orders(tenant: TenantCredentials, stock: StockStore, monkeypatch: pytest.MonkeyPatch) -> ApiClient:
    """A tenant's API client on a deployment that runs orders: both their state machines, the stock table."""
    monkeypatch.setenv("JOB_TYPE_MODULES", "jobgate.jobtypes.demo,jobgate.jobtypes.order_fulfillment")
    monkeypatch.setenv("STOCK_TABLE_NAME", STOCK_TABLE)
    create_state_machine("order-fulfillment")
    create_state_machine("order-fulfillment-express", "EXPRESS")
    stock.set_available("mug", 5)
    return ApiClient(tenant.api_key)


def submit_order(client: ApiClient) -> str:
    job = client.request("POST", "/jobs", body={"type": "order-fulfillment", "input": ORDER}).json
    assert job["status"] == "queued", job
    return str(job["id"])


def stock_task(action: str, job_id: str, **saga: Any) -> dict[str, Any]:
    """One task of the OrderStockFunction, as the state machine hands it the saga's state."""
    state = {"jobId": job_id, "type": "order-fulfillment", "input": ORDER, **saga}
    answer: dict[str, Any] = order_stock.handler(
        {"action": action, "saga": state},
        LambdaContext(function_name="jobgate-order-stock"),  # type: ignore[arg-type]
    )
    return answer


def steps(client: ApiClient, job_id: str) -> dict[str, str]:
    return {s["name"]: s["status"] for s in client.get(f"/jobs/{job_id}").json["progress"]["steps"]}


def test_orders_run_on_express_and_a_cancel_leaves_the_run_going_to_compensate(
    orders: ApiClient, stock: StockStore
) -> None:
    # Given a running order, on the Express machine
    job_id = submit_order(orders)
    assert executions_of("order-fulfillment-express") == [job_id]
    assert executions_of("order-fulfillment") == []
    stock_task("reserve-inventory", job_id)
    # When its owner cancels it
    response = orders.delete(f"/jobs/{job_id}")
    # Then the job is cancelling until a task sees that, and that task's Catch undoes the reservation
    assert response.status == 202
    assert response.json["status"] == "cancelling"
    with pytest.raises(JobCancelled):
        stock_task("confirm-order", job_id)
    cancel = {"Error": "JobCancelled", "Cause": "cancelled"}
    assert stock_task("release-stock", job_id, cancel=cancel)["undone"] is True
    assert stock.available("mug") == 5
    assert steps(orders, job_id)["reserve-inventory"] == "compensated"


def test_a_twin_run_after_the_order_succeeded_undoes_nothing(orders: ApiClient, stock: StockStore) -> None:
    # Given an order that succeeded (the stock steps alone: the partners' are not needed here)
    job_id = submit_order(orders)
    stock_task("reserve-inventory", job_id)
    stock_task("confirm-order", job_id)
    assert orders.get(f"/jobs/{job_id}").json["status"] == "succeeded"
    # When a second run of its execution (Express runs at least once) starts over
    with pytest.raises(JobCancelled):
        stock_task("reserve-inventory", job_id)
    # Then its Catch path finds the job succeeded and gives nothing back
    cancel = {"Error": "JobCancelled", "Cause": "succeeded"}
    assert stock_task("release-stock", job_id, cancel=cancel) == {"step": "reserve-inventory", "undone": False}
    assert stock.available("mug") == 4
    assert steps(orders, job_id)["reserve-inventory"] == "succeeded"


@pytest.mark.parametrize(("cancel_first", "ends"), [(False, "failed"), (True, "cancelled")])
def test_an_order_whose_express_run_was_cut_off_is_undone_on_standard(
    orders: ApiClient, stock: StockStore, monkeypatch: pytest.MonkeyPatch, cancel_first: bool, ends: str
) -> None:
    # Given an order whose Express run reserved the stock and then died (no event ever comes)
    job_id = submit_order(orders)
    stock_task("reserve-inventory", job_id)
    if cancel_first:
        assert orders.delete(f"/jobs/{job_id}").json["status"] == "cancelling"
    # When the sweeper runs once no Express run of it can still be going (TimeoutSeconds 0 here)
    for bound, seconds in {"SWEEP_IDLE_SECONDS": "0", "QUEUED_JOB_START_TIMEOUT_SECONDS": "600"}.items():
        monkeypatch.setenv(bound, seconds)
    monkeypatch.setenv("EXPRESS_JOB_TIMEOUT_SECONDS", "0")
    assert sweep()["recovered"] == [job_id]
    # Then it starts the Standard machine on the job, with the error the job is to end with
    standard = STATE_MACHINE_PREFIX + "order-fulfillment"
    sfn = boto3.client("stepfunctions")
    execution = sfn.describe_execution(executionArn=execution_arn(standard, job_id))
    recovery = json.loads(execution["input"])["recovery"]
    assert recovery["Error"] == "execution-timed-out"
    assert "Express execution started more than 0 s ago" in recovery["Cause"]
    # and leaves the job to it while it runs
    assert sweep() == NOTHING_DONE
    # That run's compensations give the stock back and its conclusion says why the job ends
    assert stock_task("release-stock", job_id, recovery=recovery)["undone"] is True
    assert stock.available("mug") == 5
    assert steps(orders, job_id)["reserve-inventory"] == "compensated"
    conclusion = order_partners.handler(
        {"action": "conclude", "saga": {"jobId": job_id, "input": ORDER, "recovery": recovery}},
        LambdaContext(function_name="jobgate-order-partners"),  # type: ignore[arg-type]
    )
    expected = {"outcome": "cancelled"} if cancel_first else {"outcome": "failed", "error": recovery}
    assert conclusion == expected
    # and should that run end without ending the job, the sweeper reconciles the job as for any Standard run
    sfn.stop_execution(executionArn=execution_arn(standard, job_id))
    assert sweep()["reconciled"] == [job_id]
    assert orders.get(f"/jobs/{job_id}").json["status"] == ends
