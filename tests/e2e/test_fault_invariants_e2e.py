"""Jobs under injected AWS faults (JOBGATE_FAULTS) keep jobgate's invariants.

The functions' DynamoDB, Step Functions, SQS and S3 calls are throttled, fail, slow down,
time out or lose their answer after committing, at the rates below. A client retries a
503 with the same Idempotency-Key, as docs/api.md says. Then, for every job: it ends
within its bound, with exactly one terminal event, its event sequences contiguous from 1;
order stock is conserved; no result object is left without its job.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobgate.jobtypes.order_fulfillment.store import StockStore
from jobgate.store.artifacts import RESULTS_PREFIX
from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import API_KEY, TERMINAL, Client, aws_clients, start_local_stack
from tests.e2e.test_order_fulfillment_e2e import order

# High enough that botocore's 3 attempts do not always absorb them: some submits answer 503,
# some starts are lost for good (the sweeper's work), some writes commit unanswered.
FAULTS = ",".join(
    [
        "dynamodb:throttle=0.1",
        "dynamodb.TransactWriteItems:lost-answer=0.15",
        # Most changes are a job write and an event write, not a transaction (store/jobs.py).
        "dynamodb.PutItem:lost-answer=0.1",
        "dynamodb:timeout=0.02",
        "sfn:throttle=0.05",
        "sfn.StartExecution:timeout=0.6",
        "sqs:throttle=0.1",
        "s3:error=0.1",
        "*:latency=0.02",
    ]
)
# 0.1: the sweeper runs every 6 s, looks at jobs idle 6 s, fails a job unstarted after 60 s.
TIME_SCALE = 0.1
# Each job's bound: its start bound (60 s) and its few steps with their retries.
JOB_BOUND_SECONDS = 180
TERMINAL_EVENTS = {"job.succeeded", "job.failed", "job.cancelled"}
DEMO_JOBS = 4
ORDERS = 3
STOCK = 5
QUANTITY = 2


@pytest.fixture(scope="module")
def fault_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults") / "injected.txt"


@pytest.fixture(scope="module")
def faulty_stack(fault_record: Path) -> Iterator[LocalStack]:
    stack = start_local_stack(time_scale=TIME_SCALE, faults=FAULTS, fault_record=fault_record)
    yield stack
    stack.stop()


def until_not_503(send: Any, deadline: float) -> Any:
    """A client's retries: a 503 is tried again after its Retry-After."""
    while True:
        response = send()
        if response.status_code != 503:
            return response
        assert time.monotonic() < deadline, f"still 503: {response.text}"
        assert response.headers["Content-Type"] == "application/problem+json"
        time.sleep(min(float(response.headers["Retry-After"]), 1.0))


def submit(client: Client, job_type: str, job_input: dict[str, Any], deadline: float) -> str:
    key = str(uuid.uuid4())
    response = until_not_503(
        lambda: client.request(
            "POST", "/jobs", json={"type": job_type, "input": job_input}, headers={"Idempotency-Key": key}
        ),
        deadline,
    )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def terminal(client: Client, job_id: str, deadline: float) -> dict[str, Any]:
    while True:
        response = until_not_503(lambda: client.request("GET", f"/jobs/{job_id}"), deadline)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in TERMINAL:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']} past its bound"
        time.sleep(0.5)


def events(client: Client, job_id: str, deadline: float) -> list[dict[str, Any]]:
    response = until_not_503(lambda: client.request("GET", f"/jobs/{job_id}/events", params={"limit": 100}), deadline)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_jobs_under_faults_keep_the_invariants(faulty_stack: LocalStack, fault_record: Path) -> None:
    client = Client(faulty_stack.api_url, API_KEY)
    aws = aws_clients(faulty_stack)
    stock = StockStore(aws("dynamodb"), "StockTable")
    sku = f"sku-{uuid.uuid4().hex[:8]}"
    stock.set_available(sku, STOCK)
    deadline = time.monotonic() + JOB_BOUND_SECONDS
    demo_ids = [submit(client, "demo", {"steps": 2, "stepSeconds": 0}, deadline) for _ in range(DEMO_JOBS)]
    order_ids = [submit(client, "order-fulfillment", order({sku: QUANTITY}), deadline) for _ in range(ORDERS)]
    finished = {job_id: terminal(client, job_id, deadline) for job_id in demo_ids + order_ids}
    injected = Counter(fault_record.read_text().splitlines())
    # The faults did happen, the nasty ones included.
    assert injected["dynamodb.TransactWriteItems lost-answer"] > 0, injected
    assert injected["dynamodb.PutItem lost-answer"] > 0, injected
    assert injected["sfn.StartExecution timeout"] > 0, injected

    for job_id, job in finished.items():
        timeline = events(client, job_id, deadline)
        assert [event["sequence"] for event in timeline] == list(range(1, len(timeline) + 1)), job_id
        ends = [event["type"] for event in timeline if event["type"] in TERMINAL_EVENTS]
        assert ends == [f"job.{job['status']}"], (job_id, ends)
    sold = sum(1 for job_id in order_ids if finished[job_id]["status"] == "succeeded")
    assert stock.available(sku) == STOCK - QUANTITY * sold
    results = aws("s3").list_objects_v2(Bucket="local-artifactsbucket", Prefix=RESULTS_PREFIX).get("Contents", [])
    for stored in results:
        job_id = stored["Key"].removeprefix(RESULTS_PREFIX).split("/")[1].split(".")[0]
        response = until_not_503(lambda job_id=job_id: client.request("GET", f"/jobs/{job_id}"), deadline)
        assert response.status_code == 200, stored["Key"]
