"""The local stack's meter on real jobs: each billable unit counted where it was spent."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobgate_cli.billing.observed import state_transitions
from jobgate_cli.billing.prices import Unit
from jobgate_cli.billing.stack_meter import HTTP_API
from jobgate_cli.local.runtime import InvocationRecord, TooManyRequests
from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import API_KEY, Client, eventually, start_local_stack
from tests.e2e.receivers import Receiver, running
from tests.e2e.test_background_check_e2e import candidate

# The sweeper's rate(1 minute), at this scale: a run every 3 s.
TIME_SCALE = 0.05
# Vendors that clear Ada Lovelace, each with one callback.
CHECKS = ["identity", "criminal"]


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, Path]]:
    meter_file = tmp_path_factory.mktemp("meter") / "bill.json"
    stack = start_local_stack(time_scale=TIME_SCALE, meter_file=meter_file)
    yield stack, meter_file
    stack.stop()


class CountingClient(Client):
    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        self.requests = 0

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.requests += 1
        return super().request(method, path, **kwargs)


def test_one_background_check_is_billed_its_api_requests_invocations_transitions_and_writes(
    metered: tuple[LocalStack, Path],
) -> None:
    stack, meter_file = metered
    assert stack.meter is not None
    assert stack.runtime is not None
    assert stack.template is not None
    sweeper = stack.template.function_by_name("JobSweeperFunction").function_name
    api_function = stack.template.function_by_name("ApiFunction").function_name
    invocations: list[InvocationRecord] = []
    stack.runtime.add_listener(invocations.append)
    stack.meter.reset_work()
    client = CountingClient(stack.api_url, API_KEY)
    # A background check runs as a Standard execution (it waits for vendors' callbacks), whose
    # history lists its transitions.
    job = client.submit({"candidate": candidate("Ada Lovelace"), "checks": CHECKS}, type="background-check")
    client.wait_for(job["id"], lambda j: j["status"] == "succeeded")

    def job_invocations() -> list[InvocationRecord]:
        return [r for r in invocations if r.function_name != sweeper and r.error_type != TooManyRequests.error_code]

    def new_in_two_seconds() -> int:
        seen = len(job_invocations())
        time.sleep(2)
        return len(job_invocations()) - seen

    # the dispatches and the reconciliation that follow the job's end, then nothing more
    eventually(new_in_two_seconds, lambda new: new == 0)
    work = stack.meter.work
    stack.meter.collect()

    # every request the client sent is one HTTP API request (all under 512 KB), and one API invocation;
    # so is each vendor's one callback (POST /vendor-callbacks/{id})
    assert work.quantity(Unit.API_REQUEST, HTTP_API) == client.requests + len(CHECKS)
    assert work.quantity(Unit.LAMBDA_REQUEST, api_function) == client.requests + len(CHECKS)
    assert work.quantity(Unit.LAMBDA_REQUEST) == len(job_invocations())

    # the execution's transitions, as its history lists them through the Step Functions API
    sfn = stack.endpoints.client("stepfunctions")
    (machine,) = [m for m in stack.template.state_machines if m.logical_id == "BackgroundCheckJobStateMachine"]
    (execution,) = sfn.list_executions(stateMachineArn=machine.arn)["executions"]
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    assert work.quantity(Unit.SFN_STANDARD_TRANSITION, machine.name) == state_transitions(history) > 0

    # each accepted change of the job writes the job and its event: at least 2 write units each
    events = client.request("GET", f"/jobs/{job['id']}/events").json()["items"]
    assert work.quantity(Unit.DYNAMODB_WRU) >= 2 * len(events)
    assert work.quantity(Unit.DYNAMODB_RRU) > 0
    assert work.quantity(Unit.LOG_BYTE) > 0

    # the sweeper ran (every 3 s here): a fixed cost per month, in no line of the work's bill
    eventually(lambda: [r for r in invocations if r.function_name == sweeper], bool, timeout=10)
    meter = stack.meter

    def sweeping_per_month() -> float | None:
        (sweeping,) = [cost for cost in meter.reading().fixed if cost.what.startswith(sweeper)]
        return sweeping.dollars_per_month

    # the meter bills a run once it has ended, which the listener above may hear of first
    eventually(sweeping_per_month, lambda dollars: dollars is not None and dollars > 0, timeout=10)
    assert all(line.spent_by != sweeper for line in meter.reading().work.lines)

    # the meter file holds the bill, as `jobgate local --meter` writes it every 5 s
    # (a reading written before this job's work was billed holds 0 dollars: wait for the next)
    eventually(
        lambda: json.loads(meter_file.read_text()) if meter_file.exists() else {},
        lambda written: written.get("dollars", 0) > 0,
        timeout=15,
    )


def test_a_webhook_retried_through_its_queue_bills_the_queue_requests(metered: tuple[LocalStack, Path]) -> None:
    stack, _ = metered
    assert stack.meter is not None
    assert stack.template is not None
    retry_queue = stack.template.physical_names["WebhookRetryQueue"]
    with running(Receiver(refuse_first=1, refusal_status=500)) as receiver:
        stack.meter.reset_work()
        job = Client(stack.api_url, API_KEY).submit({"steps": 1, "stepSeconds": 0}, callback={"url": receiver.url})
        eventually(lambda: [r.event["type"] for r in receiver.events_of(job["id"])], lambda got: "job.succeeded" in got)
        assert receiver.refused == 1
        # the refused delivery: sent to the retry queue, received by its event source mapping with
        # the message, then deleted once delivered (the queue's idle polls are not the job's)
        meter = stack.meter
        eventually(lambda: meter.work.quantity(Unit.SQS_REQUEST, retry_queue), lambda n: n >= 3)


def test_a_short_demo_job_is_billed_one_express_request_and_its_duration(metered: tuple[LocalStack, Path]) -> None:
    stack, _ = metered
    assert stack.meter is not None
    assert stack.template is not None
    (standard,) = [m for m in stack.template.state_machines if m.logical_id == "DemoJobStateMachine"]
    (express,) = [m for m in stack.template.state_machines if m.logical_id == "DemoExpressJobStateMachine"]
    stack.meter.reset_work()
    client = Client(stack.api_url, API_KEY)
    job = client.submit({"steps": 2, "stepSeconds": 0})
    client.wait_for(job["id"], lambda j: j["status"] == "succeeded")
    meter = stack.meter
    eventually(lambda: meter.work.quantity(Unit.SFN_EXPRESS_REQUEST, express.name), lambda n: n == 1)
    # 64 MB for at least one 100 ms step; no Standard transition
    assert meter.work.quantity(Unit.SFN_EXPRESS_GB_SECOND, express.name) >= 0.0625 * 0.1
    assert meter.work.quantity(Unit.SFN_STANDARD_TRANSITION, standard.name) == 0
