"""The billing meter's unit rules and bill, against examples computed by hand."""

from __future__ import annotations

import pytest

from jobgate_cli.billing import units
from jobgate_cli.billing.meter import Meter
from jobgate_cli.billing.observed import LambdaBilling, state_transitions
from jobgate_cli.billing.prices import PRICES, Unit
from jobgate_cli.local.runtime import InvocationRecord


def test_an_http_api_request_is_one_unit_per_started_512_kb() -> None:
    assert units.api_requests(200, 1_500) == 1
    assert units.api_requests(512 * 1024, 0) == 1
    assert units.api_requests(512 * 1024, 1) == 2
    assert units.api_requests(0, 1_300_000) == 3  # 1.24 MiB: three started 512 KB


def test_lambda_duration_rounds_up_to_the_millisecond() -> None:
    # 128 MB for 10.2 ms bills 11 ms: 0.125 GB x 0.011 s
    assert units.lambda_gb_seconds(128, 10.2) == pytest.approx(0.001375)
    assert units.lambda_gb_seconds(1024, 1000.0) == pytest.approx(1.0)


def test_express_rounds_memory_to_64_mb_and_duration_to_100_ms() -> None:
    # 70 MB for 150 ms bills 128 MB for 200 ms: 0.125 GB x 0.2 s
    assert units.express_gb_seconds(70, 150) == pytest.approx(0.025)
    assert units.express_gb_seconds(64, 100) == pytest.approx(0.00625)


def test_an_sqs_request_is_one_unit_per_started_64_kb() -> None:
    assert units.sqs_requests(300) == 1
    assert units.sqs_requests(64 * 1024 + 1) == 2
    assert units.sqs_requests(256 * 1024) == 4


def test_dynamodb_capacity_is_the_consumed_capacity_of_read_and_write_operations() -> None:
    one = {"TableName": "jobs", "CapacityUnits": 4.0, "Table": {"CapacityUnits": 2.0}}
    assert units.dynamodb_capacity("PutItem", one) == {"jobs": 4.0}
    transaction = [{"TableName": "jobs", "CapacityUnits": 4.0}, {"TableName": "tenants", "CapacityUnits": 2.0}]
    assert units.dynamodb_capacity("TransactWriteItems", transaction) == {"jobs": 4.0, "tenants": 2.0}
    assert units.dynamodb_capacity("DescribeTable", one) == {}  # control plane: not billed per request
    assert units.dynamodb_capacity("GetItem", None) == {}
    assert units.is_write("UpdateItem")
    assert not units.is_write("Query")


def test_the_bill_prices_each_unit_from_the_table_and_per_million_jobs() -> None:
    meter = Meter()
    # One hand-counted job: 11 transitions, 13 invocations of 128 MB x 50 ms, 78 WRU, 29 RRU.
    meter.add(Unit.SFN_STANDARD_TRANSITION, 11, "local-job-demo")
    meter.add(Unit.LAMBDA_REQUEST, 13, "functions")
    meter.add(Unit.LAMBDA_GB_SECOND, 13 * units.lambda_gb_seconds(128, 50), "functions")
    meter.add(Unit.DYNAMODB_WRU, 78, "JobsTable")
    meter.add(Unit.DYNAMODB_RRU, 29, "JobsTable")
    bill = meter.bill()
    expected = 11 * 0.000025 + 13 * 0.0000002 + 13 * 0.00625 * 0.0000133334 + 78 * 0.000000625 + 29 * 0.000000125
    assert bill.dollars == pytest.approx(expected)
    assert bill.per_million(1) == pytest.approx(expected * 1e6)  # ≈ $333.5 per million
    assert bill.dollars_by_unit()[Unit.SFN_STANDARD_TRANSITION] == pytest.approx(275e-6)


def test_every_unit_has_a_price_with_its_source() -> None:
    assert set(PRICES) == set(Unit)
    assert all(price.source.startswith("https://") and price.as_of for price in PRICES.values())


def test_a_standard_execution_bills_each_state_entered_and_each_retry() -> None:
    # Five states (a task, a Pass, a task throttled once then run, a Choice, a task):
    # 5 states entered + 1 retry.
    history = [
        {"type": "ExecutionStarted"},
        {"type": "TaskStateEntered"},
        {"type": "LambdaFunctionScheduled"},
        {"type": "LambdaFunctionSucceeded"},
        {"type": "TaskStateExited"},
        {"type": "PassStateEntered"},
        {"type": "PassStateExited"},
        {"type": "TaskStateEntered"},
        {"type": "LambdaFunctionScheduled"},
        {"type": "LambdaFunctionFailed"},
        {"type": "LambdaFunctionScheduled"},
        {"type": "LambdaFunctionSucceeded"},
        {"type": "TaskStateExited"},
        {"type": "ChoiceStateEntered"},
        {"type": "ChoiceStateExited"},
        {"type": "TaskStateEntered"},
        {"type": "TaskScheduled"},
        {"type": "TaskSucceeded"},
        {"type": "TaskStateExited"},
        {"type": "ExecutionSucceeded"},
    ]
    assert state_transitions(history) == 6


def test_each_invocation_bills_a_request_and_its_memory_times_duration() -> None:
    meter = Meter()
    billing = LambdaBilling(lambda name: meter, {"local-demo-step": 256})
    for duration_ms in (12.3, 100.0):
        billing(InvocationRecord("local-demo-step", "request-id", duration_ms, cold_start=False, error_type=None))
    assert meter.quantity(Unit.LAMBDA_REQUEST) == 2
    # 0.25 GB x (13 ms + 100 ms)
    assert meter.quantity(Unit.LAMBDA_GB_SECOND, "local-demo-step") == pytest.approx(0.25 * 0.113)
