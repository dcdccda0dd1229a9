"""Step Functions and Lambda per job, measured on the local stack: issue 11's cuts, before and after.

For one job at a time of each measured input (demo, order-fulfillment): the Standard state
transitions (counted from the execution's history as billing.observed does), or the Express
request and billed duration (64 MB, 100 ms steps); the Lambda invocations while the job ran
(tasks, webhooks, reconciler; not the API, which serves this script's polling); and what
those (Step Functions, Lambda requests and GB-seconds) cost per million such jobs at billing.prices.

    PYTHONPATH=$PWD/layers/jobgate:$PWD/cli:$PWD python -m tools.workflow_counts

The local stack runs at time scale 1 (the demo's pauses are real); it takes about a minute.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import requests

from jobgate.jobtypes.order_fulfillment.store import StockStore
from jobgate_cli.billing.meter import Meter
from jobgate_cli.billing.observed import LambdaBilling, state_transitions
from jobgate_cli.billing.prices import Unit
from jobgate_cli.billing.units import express_gb_seconds
from jobgate_cli.local.runtime import InvocationRecord
from jobgate_cli.local.stack import LocalStack, LocalStackConfig
from jobgate_cli.local.tenants_seed import TenantSeed

API_KEY = "jg_workflow-counts-key"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TERMINAL = {"succeeded", "failed", "cancelled"}
EXPRESS_MEMORY_MB = 64  # Express bills at least 64 MB; jobgate's states hold far less
WORKFLOW_UNITS = (
    Unit.SFN_STANDARD_TRANSITION,
    Unit.SFN_EXPRESS_REQUEST,
    Unit.SFN_EXPRESS_GB_SECOND,
    Unit.LAMBDA_REQUEST,
    Unit.LAMBDA_GB_SECOND,
)


@dataclass
class Observed:
    invocations: list[InvocationRecord] = field(default_factory=list)
    executions: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_invocation(self, record: InvocationRecord) -> None:
        with self.lock:
            self.invocations.append(record)

    def on_execution_ended(self, detail: dict[str, Any]) -> None:
        with self.lock:
            self.executions.append(detail)

    def take(self) -> tuple[list[InvocationRecord], list[dict[str, Any]]]:
        with self.lock:
            taken = (self.invocations, self.executions)
            self.invocations, self.executions = [], []
        return taken


def main() -> int:
    stack = LocalStack(LocalStackConfig(port=0, aws_port=0, tenants=[TenantSeed("counts", API_KEY, SECRET)]))
    stack.start()
    try:
        return measure(stack)
    finally:
        stack.stop()


def measure(stack: LocalStack) -> int:
    assert stack.template is not None
    assert stack.runtime is not None
    observed = Observed()
    stack.runtime.add_listener(observed.on_invocation)
    stack._moto.on_execution_ended(observed.on_execution_ended)  # the stack's own hook, not AWS's
    memory = {f.function_name: f.memory_mb for f in stack.template.functions.values()}
    api_function = stack.template.function_by_name("ApiFunction").function_name
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {API_KEY}"
    sku = f"sku-{uuid.uuid4().hex[:8]}"
    stock_table = stack.template.physical_names["StockTable"]
    StockStore(stack.endpoints.client("dynamodb"), stock_table).set_available(sku, 1000)
    jobs = {
        "demo (3 steps of 1 s)": ("demo", {"steps": 3, "stepSeconds": 1}),
        "order-fulfillment": ("order-fulfillment", order_input(sku)),
    }
    print(f"{'job':<24} {'status':<10} {'Std transitions':>15} {'Express s':>9} {'Lambda inv.':>11}  $/M SFN+Lambda")
    for label, (job_type, job_input) in jobs.items():
        response = session.post(f"{stack.api_url}/jobs", json={"type": job_type, "input": job_input}, timeout=30)
        response.raise_for_status()
        job_id = response.json()["id"]
        status = wait_until_terminal(session, stack.api_url, job_id)
        time.sleep(3)  # webhooks, the reconciler and a late task finish before the count
        everything, executions = observed.take()
        # The client's own polling is not the workflow's: the API function is left out.
        invocations = [r for r in everything if r.function_name != api_function]
        meter = Meter()
        bill_lambda = LambdaBilling(partial(_same_meter, meter), memory)
        for record in invocations:
            bill_lambda(record)
        express_seconds = 0.0
        transitions = 0
        for detail in executions:
            if detail["name"] != job_id:
                continue
            if ":express:" in detail["executionArn"]:
                duration_ms = float(detail["stopDate"] - detail["startDate"])
                express_seconds += duration_ms / 1000
                meter.add(Unit.SFN_EXPRESS_REQUEST, 1, "express")
                meter.add(Unit.SFN_EXPRESS_GB_SECOND, express_gb_seconds(EXPRESS_MEMORY_MB, duration_ms), "express")
            else:
                history = stack.endpoints.client("stepfunctions").get_execution_history(
                    executionArn=detail["executionArn"], maxResults=1000
                )["events"]
                transitions += state_transitions(history)
                meter.add(Unit.SFN_STANDARD_TRANSITION, transitions, "standard")
        dollars = sum(meter.bill().dollars_by_unit().get(unit, 0.0) for unit in WORKFLOW_UNITS) * 1e6
        by_function = Counter(record.function_name for record in invocations)
        print(
            f"{label:<24} {status:<10} {transitions:>15} {express_seconds:>9.1f} {len(invocations):>11}  {dollars:8.2f}"
        )
        print("    " + ", ".join(f"{name.removeprefix('local-')} {n}" for name, n in sorted(by_function.items())))
    return 0


def order_input(sku: str) -> dict[str, Any]:
    return {
        "items": [{"sku": sku, "quantity": 1}],
        "payment": {"cardToken": "tok_visa", "amount": 2500, "currency": "EUR"},
        "shipping": {"name": "Ada Lovelace", "address": "12 rue Oberkampf", "postcode": "75011", "country": "FR"},
    }


def wait_until_terminal(session: requests.Session, api_url: str, job_id: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = str(session.get(f"{api_url}/jobs/{job_id}", timeout=30).json()["status"])
        if status in TERMINAL:
            return status
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id} did not finish")


def _same_meter(meter: Meter, _function: str) -> Meter:
    """Every function's invocations on the one meter of this job."""
    return meter


if __name__ == "__main__":
    sys.exit(main())
