"""The local stack's meter: what each observed call adds, against figures computed by hand."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import handlers
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from jobgate_cli.billing import units
from jobgate_cli.billing.capacity_hook import CAPACITY_RECORD_VARIABLE, install
from jobgate_cli.billing.prices import PRICES, Unit
from jobgate_cli.billing.stack_meter import MONTH_SECONDS, StackMeter
from jobgate_cli.local.moto_endpoint import AwsCall, _ObservedApplication, signed_service
from jobgate_cli.local.runtime import InvocationRecord
from jobgate_cli.local.template_model import LocalFunction, LocalStateMachine

REQUEST_ID = "8f5c2a8e-4d3b-4c1e-9a7f-0123456789ab"  # 36 characters, as Lambda's


def function(name: str, memory_mb: int = 512, events: dict[str, Any] | None = None) -> LocalFunction:
    return LocalFunction(name, name, "app.handler", Path("."), 30, memory_mb, {}, events or {})


SWEEPER = function("sweeper", 256, {"EveryMinute": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}}})
RETRY = function("retry", 256, {"Due": {"Type": "SQS", "Properties": {"Queue": "arn:aws:sqs:::due"}}})
STANDARD = LocalStateMachine("Standard", "standard-job", "STANDARD", "{}")
EXPRESS = LocalStateMachine("Express", "express-job", "EXPRESS", "{}")


@pytest.fixture
def meter(tmp_path: Path) -> StackMeter:
    return StackMeter([function("api"), SWEEPER, RETRY], [STANDARD, EXPRESS], tmp_path / "capacity.jsonl")


def invocation(name: str, duration_ms: float, error_type: str | None = None) -> InvocationRecord:
    return InvocationRecord(name, REQUEST_ID, duration_ms, cold_start=False, error_type=error_type)


def sqs_call(operation: str, body: bytes, response: bytes = b"{}") -> AwsCall:
    headers = {"x-amz-target": f"AmazonSQS.{operation}"}
    return AwsCall("sqs", "POST", "/", {}, headers, body, 200, response)


def s3_call(method: str, path: str) -> AwsCall:
    return AwsCall("s3", method, path, {}, {}, b"", 200, b"")


def test_lambda_writes_its_start_end_and_report_lines_to_the_log() -> None:
    # START RequestId: <36> Version: $LATEST\n = 17 + 36 + 18; END RequestId: <36>\n = 15 + 36 + 1;
    # REPORT: 18 + 36 + "\tDuration: 12.34 ms" 19 + "\tBilled Duration: 13 ms" 23
    #   + "\tMemory Size: 512 MB" 20 + "\tMax Memory Used: 100 MB" 24 + "\t\n" 2
    assert units.lambda_platform_log_bytes(REQUEST_ID, 12.34, 512, cold_start=False) == 71 + 52 + 142
    # a cold start adds "Init Duration: 12.34 ms\t" (24)
    assert units.lambda_platform_log_bytes(REQUEST_ID, 12.34, 512, cold_start=True) == 71 + 52 + 142 + 24


def test_s3_requests_fall_in_their_price_tier_and_deletes_are_free() -> None:
    assert units.s3_request_tier("PUT", "/results/job_1/result.json") == "write"
    assert units.s3_request_tier("POST", "/uploads/u_1") == "write"
    assert units.s3_request_tier("GET", "/results") == "write"  # a LIST of the bucket
    assert units.s3_request_tier("GET", "/results/job_1/result.json") == "read"
    assert units.s3_request_tier("HEAD", "/results/job_1/result.json") == "read"
    assert units.s3_request_tier("DELETE", "/results/job_1/result.json") is None


def test_an_invocation_bills_its_request_duration_and_log_lines_and_a_throttled_one_nothing(
    meter: StackMeter,
) -> None:
    meter.on_invocation(invocation("api", 99.2))
    meter.on_invocation(invocation("api", 0.0, error_type="TooManyRequestsException"))
    meter.on_function_output("api", 300)
    meter.on_function_output("api", 120)
    assert meter.work.quantity(Unit.LAMBDA_REQUEST) == 1
    assert meter.work.quantity(Unit.LAMBDA_GB_SECOND) == pytest.approx(0.5 * 0.1)  # 512 MB x 100 ms
    assert meter.work.quantity(Unit.LOG_BYTE) == 420 + units.lambda_platform_log_bytes(REQUEST_ID, 99.2, 512, False)


def test_api_requests_are_billed_per_started_512_kb_of_request_and_response(meter: StackMeter) -> None:
    meter.on_api_request(300, 2_000)
    meter.on_api_request(600 * 1024, 100)
    assert meter.work.quantity(Unit.API_REQUEST) == 1 + 2


def test_sqs_requests_are_billed_per_64_kb_and_the_idle_polling_per_month(meter: StackMeter) -> None:
    queue_url = "http://127.0.0.1:3001/123456789012/due"
    meter.on_aws_call(
        sqs_call("SendMessage", json.dumps({"QueueUrl": queue_url, "MessageBody": "x" * 70_000}).encode())
    )
    messages = json.dumps({"Messages": [{"Body": "x" * 1_000}]}).encode()
    meter.on_aws_call(sqs_call("ReceiveMessage", json.dumps({"QueueUrl": queue_url}).encode(), messages))
    meter.on_aws_call(sqs_call("ReceiveMessage", json.dumps({"QueueUrl": queue_url}).encode(), b"{}"))
    assert meter.work.quantity(Unit.SQS_REQUEST, "due") == 2 + 1  # 70 KB: two chunks; the empty poll: none
    idle = [cost for cost in meter.reading().fixed if "SQS polling" in cost.what]
    # five 20 s long polls at a time, all month: 5 x 2,628,000 s / 20 s = 657,000 requests
    assert [cost.dollars_per_month for cost in idle] == [pytest.approx(657_000 * 0.40 / 1e6)]


def test_s3_requests_are_billed_by_bucket_and_tier(meter: StackMeter) -> None:
    meter.on_aws_call(s3_call("PUT", "/uploads/u_1"))
    meter.on_aws_call(s3_call("GET", "/uploads/u_1"))
    meter.on_aws_call(s3_call("DELETE", "/uploads/u_1"))
    assert meter.work.quantity(Unit.S3_WRITE_REQUEST, "uploads") == 1
    assert meter.work.quantity(Unit.S3_READ_REQUEST, "uploads") == 1


def test_a_standard_execution_bills_its_transitions_and_an_express_one_its_request_and_duration(
    meter: StackMeter,
) -> None:
    history = [
        {"type": "ExecutionStarted"},
        {"type": "PassStateEntered"},
        {"type": "TaskStateEntered"},
        {"type": "TaskScheduled"},
        {"type": "TaskScheduled"},  # a retry
        {"type": "SucceedStateEntered"},
        {"type": "ExecutionSucceeded"},
    ]
    meter.on_execution_history({"stateMachineArn": STANDARD.arn, "startDate": 0, "stopDate": 5_000}, history)
    meter.on_execution_history({"stateMachineArn": EXPRESS.arn, "startDate": 1_000, "stopDate": 1_250}, history)
    assert meter.work.quantity(Unit.SFN_STANDARD_TRANSITION, "standard-job") == 4
    assert meter.work.quantity(Unit.SFN_EXPRESS_REQUEST, "express-job") == 1
    # 64 MB x 300 ms (250 ms rounded up to 100 ms steps)
    assert meter.work.quantity(Unit.SFN_EXPRESS_GB_SECOND, "express-job") == pytest.approx(0.0625 * 0.3)
    assert meter.work.quantity(Unit.SFN_STANDARD_TRANSITION, "express-job") == 0


def test_a_scheduled_function_is_a_fixed_cost_per_month_not_a_cost_of_the_work(meter: StackMeter) -> None:
    meter.on_invocation(invocation("sweeper", 100.0))
    meter.on_invocation(invocation("sweeper", 300.0))
    assert meter.work.quantity(Unit.LAMBDA_REQUEST) == 0
    (sweeper,) = [cost for cost in meter.reading().fixed if cost.what.startswith("sweeper")]
    log_bytes = units.lambda_platform_log_bytes(REQUEST_ID, 100.0, 256, False) + units.lambda_platform_log_bytes(
        REQUEST_ID, 300.0, 256, False
    )
    # two runs: 2 requests, 0.25 GB x 0.4 s, their log lines; a month has 2,628,000 s / 60 s = 43,800 runs
    two_runs = (
        2 * PRICES[Unit.LAMBDA_REQUEST].dollars_per_unit
        + 0.25 * 0.4 * PRICES[Unit.LAMBDA_GB_SECOND].dollars_per_unit
        + log_bytes * PRICES[Unit.LOG_BYTE].dollars_per_unit
    )
    assert MONTH_SECONDS / 60 == 43_800
    assert sweeper.dollars_per_month == pytest.approx(two_runs / 2 * 43_800)


def test_an_unrun_schedule_is_reported_as_not_measured(meter: StackMeter) -> None:
    (sweeper,) = [cost for cost in meter.reading().fixed if cost.what.startswith("sweeper")]
    assert sweeper.dollars_per_month is None


def test_the_capacity_the_functions_record_is_billed_to_their_meter_and_table(meter: StackMeter) -> None:
    lines = [
        {"function": "api", "operation": "TransactWriteItems", "capacity": {"JobsTable": 8.0, "EventsTable": 2.0}},
        {"function": "api", "operation": "GetItem", "capacity": {"JobsTable": 1.0}},
        {"function": "sweeper", "operation": "Scan", "capacity": {"JobsTable": 0.5}},
    ]
    meter.capacity_record.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"function": "api", "op')
    meter.collect()
    assert meter.work.quantity(Unit.DYNAMODB_WRU, "JobsTable") == 8
    assert meter.work.quantity(Unit.DYNAMODB_WRU, "EventsTable") == 2
    assert meter.work.quantity(Unit.DYNAMODB_RRU, "JobsTable") == 1  # the sweeper's half unit is a fixed cost
    with meter.capacity_record.open("a") as record:  # the half-written line is completed later
        record.write('eration": "GetItem", "capacity": {"JobsTable": 1.0}}\n')
    meter.collect()
    assert meter.work.quantity(Unit.DYNAMODB_RRU, "JobsTable") == 2


@pytest.fixture
def capacity_hook(tmp_path: Path) -> Iterator[Path]:
    record = tmp_path / "record.jsonl"
    before = list(handlers.BUILTIN_HANDLERS)
    install({CAPACITY_RECORD_VARIABLE: str(record), "AWS_LAMBDA_FUNCTION_NAME": "local-api"})
    try:
        yield record
    finally:
        handlers.BUILTIN_HANDLERS[:] = before


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def test_the_functions_ask_each_dynamodb_call_for_its_capacity_and_record_it(capacity_hook: Path) -> None:
    client = boto3.session.Session().client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    sent: list[dict[str, Any]] = []
    answers = [{"ConsumedCapacity": {"TableName": "JobsTable", "CapacityUnits": 1.0}}, {}]

    def dynamodb(request: Any, **_: Any) -> AWSResponse:
        """DynamoDB on the wire: what the call sent, and an answer."""
        sent.append(json.loads(request.body))
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        return AWSResponse(request.url, 200, headers, _Body(json.dumps(answers.pop(0)).encode()))

    client.meta.events.register("before-send.dynamodb", dynamodb)  # type: ignore[arg-type]
    client.get_item(TableName="JobsTable", Key={"pk": {"S": "a"}})
    client.put_item(TableName="JobsTable", Item={"pk": {"S": "a"}}, ReturnConsumedCapacity="TOTAL")  # its own
    assert [request["ReturnConsumedCapacity"] for request in sent] == ["INDEXES", "TOTAL"]
    recorded = [json.loads(line) for line in capacity_hook.read_text().splitlines()]
    assert recorded == [{"function": "local-api", "operation": "GetItem", "capacity": {"JobsTable": 1.0}}]


def test_a_transaction_is_recorded_at_two_units_per_started_kb_of_each_item(capacity_hook: Path) -> None:
    client = boto3.session.Session().client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    # What DynamoDB Local answers for this transaction: 2 units in all, index writes apart.
    answer = {
        "ConsumedCapacity": [
            {"TableName": "JobsTable", "CapacityUnits": 3.0, "GlobalSecondaryIndexes": {"g": {"CapacityUnits": 1.0}}}
        ]
    }

    def dynamodb(request: Any, **_: Any) -> AWSResponse:
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        return AWSResponse(request.url, 200, headers, _Body(json.dumps(answer).encode()))

    client.meta.events.register("before-send.dynamodb", dynamodb)  # type: ignore[arg-type]
    # Items of 2 + 1,500 bytes (2 KB: 4 units in a transaction) and 2 + 10 bytes (1 KB: 2 units).
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "JobsTable", "Item": {"pk": {"S": "x" * 1_500}}}},
            {"Put": {"TableName": "JobsTable", "Item": {"pk": {"S": "y" * 10}}}},
        ]
    )
    recorded = [json.loads(line) for line in capacity_hook.read_text().splitlines()]
    assert recorded == [{"function": "local-api", "operation": "TransactWriteItems", "capacity": {"JobsTable": 7.0}}]


def test_an_item_is_sized_by_its_names_and_values() -> None:
    item = {
        "pk": {"S": "JOB#é"},  # 2 + 6 (é is 2 bytes)
        "version": {"N": "12345"},  # 7 + 3
        "done": {"BOOL": True},  # 4 + 1
        "steps": {"L": [{"S": "ab"}, {"N": "7"}]},  # 5 + 3 + (1 + 2) + (1 + 1)
        "doc": {"M": {"a": {"S": "xyz"}}},  # 3 + 3 + 1 + 3
    }
    assert units.item_size(item) == 8 + 10 + 5 + 13 + 10


def test_the_aws_endpoint_tells_each_request_with_its_signed_service_and_sizes() -> None:
    seen: list[AwsCall] = []

    def moto_like(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"echo": ', str(len(body)).encode(), b"}"]

    application = _ObservedApplication(moto_like, [seen.append])
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "CONTENT_LENGTH": "11",
        "wsgi.input": io.BytesIO(b'{"a": "bc"}'),
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=local/20261201/us-east-1/sqs/aws4_request, Signature=0",
        "HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage",
    }
    answer = b"".join(application(environ, lambda status, headers, exc_info=None: None))
    assert answer == b'{"echo": 11}'  # moto still read the whole body
    (call,) = seen
    assert (call.service, call.method, call.body, call.response, call.status) == (
        "sqs",
        "POST",
        b'{"a": "bc"}',
        answer,
        200,
    )
    assert call.headers["x-amz-target"] == "AmazonSQS.SendMessage"


def test_a_presigned_url_names_its_service_in_its_query() -> None:
    query = {"X-Amz-Credential": ["local/20261201/us-east-1/s3/aws4_request"]}
    assert signed_service("", query) == "s3"
    assert signed_service("", {}) == ""
