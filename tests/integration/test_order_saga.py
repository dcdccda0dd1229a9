"""order-fulfillment against moto: the StockTable's reservations, and a cancel that does not stop the saga."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

import order_stock
from jobgate.domain.errors import JobCancelled
from jobgate.jobtypes.order_fulfillment.errors import OutOfStock
from jobgate.jobtypes.order_fulfillment.store import Line, StockStore
from jobgate.tenants import TenantCredentials
from jobgate_cli.provision import create_table_from_template
from tests.api import ApiClient
from tests.conftest import STATE_MACHINE_PREFIX, TEMPLATE, LambdaContext, create_state_machine
from tests.workflow import lifecycle

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


def test_cancelling_an_order_leaves_its_workflow_running_to_compensate(
    tenant: TenantCredentials, stock: StockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running order (its type says stop_on_cancel=False)
    monkeypatch.setenv("JOB_TYPE_MODULES", "jobgate.jobtypes.demo,jobgate.jobtypes.order_fulfillment")
    monkeypatch.setenv("STOCK_TABLE_NAME", STOCK_TABLE)
    create_state_machine("order-fulfillment")
    order = {
        "items": [{"sku": "mug", "quantity": 1}],
        "payment": {"cardToken": "tok_visa", "amount": 900, "currency": "EUR"},
        "shipping": {"name": "Ada", "address": "1 Main St", "postcode": "75011", "country": "FR"},
    }
    client = ApiClient(tenant.api_key)
    job = client.request("POST", "/jobs", body={"type": "order-fulfillment", "input": order}).json
    lifecycle("start", job["id"])
    # When its owner cancels it
    response = client.delete(f"/jobs/{job['id']}")
    # Then the execution is not stopped: the job is cancelling until a task sees that
    assert response.status == 202
    assert response.json["status"] == "cancelling"
    execution_arn = STATE_MACHINE_PREFIX.replace(":stateMachine:", ":execution:") + f"order-fulfillment:{job['id']}"
    assert boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    state = {"jobId": job["id"], "type": "order-fulfillment", "input": order}
    with pytest.raises(JobCancelled):
        order_stock.handler(
            {"action": "reserve-inventory", "saga": state},
            LambdaContext(function_name="jobgate-order-stock"),  # type: ignore[arg-type]
        )
