"""What one job costs in DynamoDB, billed by DynamoDB Local's ConsumedCapacity (the meter's source).

A `demo` job runs through the service as its functions run it: submit, the lifecycle's start,
the demo task's steps (jobtypes/demo/workflow.py), the success with its result, and a client's
reads. Step Functions is a stub: only the jobs table is measured. The figures are computed by
hand from DynamoDB's rules (1 KB per write unit, x2 in a transaction, an index write only when
an attribute the index holds changes; 4 KB per read unit, half when eventually consistent).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from jobgate.config import Settings
from jobgate.domain.models import Callback, Job, StepStatus
from jobgate.domain.status import JobStatus
from jobgate.jobtypes.demo.models import DemoInput, DemoStepRequest
from jobgate.jobtypes.demo.workflow import DemoSteps
from jobgate.registry import load_registry
from jobgate.service import JobService, SubmitRequest
from jobgate.store.jobs import JobStore
from jobgate.store.results import ResultStore
from jobgate.timeutil import to_rfc3339
from jobgate_cli.billing import units
from jobgate_cli.local.endpoints import LocalEndpoints
from jobgate_cli.provision import create_table_from_template
from tests.conftest import JOBS_TABLE, TEMPLATE

DEMO_INPUT = {"steps": 3, "stepSeconds": 1}


@dataclass
class Meter:
    """Capacity units and calls per DynamoDB operation, from each answer's ConsumedCapacity.

    A transaction's are sized from the items sent, as the billing meter sizes them
    (units.transaction_capacity): DynamoDB Local answers 2 for any transaction of small items.
    """

    units: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: Counter[str] = field(default_factory=Counter)
    sizes: list[int] = field(default_factory=list)

    def ask_for_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in units.WRITE_OPERATIONS | units.READ_OPERATIONS:
            params["ReturnConsumedCapacity"] = "INDEXES"
        if model.name == "TransactWriteItems":
            self._transaction = params["TransactItems"]
        if model.name == "PutItem":
            self.sizes.append(units.item_size(params["Item"]))

    def count(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        self.calls[operation] += 1
        consumed = parsed.get("ConsumedCapacity")
        if operation == "TransactWriteItems" and consumed:
            self.sizes.extend(units.item_size(action["Put"]["Item"]) for action in self._transaction)
            self.units[operation] += units.transaction_capacity(self._transaction, consumed).get(JOBS_TABLE, 0)
            return
        self.units[operation] += units.dynamodb_capacity(operation, consumed).get(JOBS_TABLE, 0)

    def writes(self) -> float:
        return sum(n for operation, n in self.units.items() if units.is_write(operation))

    def reads(self) -> float:
        return sum(n for operation, n in self.units.items() if not units.is_write(operation))

    def reset(self) -> None:
        self.units.clear()
        self.calls.clear()


class NoExecutions:
    """Step Functions stand-in: the test runs the workflow's tasks itself."""

    def start(self, state_machine_arn: str, name: str, execution_input: dict[str, Any]) -> None:
        pass

    def stop(self, execution_arn: str, cause: str) -> None:
        pass


@pytest.fixture(scope="module")
def metered(dynamodb_local: LocalEndpoints) -> Iterator[tuple[Any, Meter]]:
    client = dynamodb_local.client("dynamodb")
    create_table_from_template(client, TEMPLATE, "JobsTable", JOBS_TABLE)
    meter = Meter()
    client.meta.events.register("provide-client-params.dynamodb.*", meter.ask_for_capacity)
    client.meta.events.register("after-call.dynamodb.*", meter.count)
    yield client, meter
    client.delete_table(TableName=JOBS_TABLE)


@pytest.fixture
def service(metered: tuple[Any, Meter]) -> JobService:
    client, meter = metered
    meter.reset()
    settings = Settings.from_environment()
    return JobService(
        settings=settings,
        jobs=JobStore(client, JOBS_TABLE),
        results=ResultStore(client, None, JOBS_TABLE, settings.artifacts_bucket_name),  # type: ignore[arg-type]
        executions=NoExecutions(),  # type: ignore[arg-type]
        registry=load_registry(settings.job_type_modules),
    )


def submit_demo_job(service: JobService) -> Job:
    return service.submit("acme", SubmitRequest(type="demo", input=DEMO_INPUT, callback=None, retention=None), None).job


def started_demo_job(service: JobService) -> Job:
    job = submit_demo_job(service)
    return service.start_running(job.id)


def run_demo_job(service: JobService) -> str:
    """Submit a 3-step demo job and run it as its state machine does (the first step starts it,
    the last succeeds it); the job's id."""
    request = SubmitRequest(
        type="demo", input=DEMO_INPUT, callback=Callback(url="https://hooks.example.com/jobgate"), retention=None
    )
    job = service.submit("acme", request, idempotency_key=None).job
    steps = DemoSteps(service)
    answer: dict[str, Any] = {"stepIndex": 0, "done": False}
    while not answer["done"]:
        answer = steps.run(
            DemoStepRequest(job_id=job.id, input=DemoInput.model_validate(DEMO_INPUT), step_index=answer["stepIndex"])
        )
    return job.id


def test_a_demo_job_writes_a_fraction_of_what_embedding_the_job_everywhere_wrote(
    service: JobService, metered: tuple[Any, Meter]
) -> None:
    _, meter = metered
    run_demo_job(service)
    # 1 create + 8 changes (start, 3 x step running and succeeded, success), each a transaction.
    print(f"\ndemo job, workflow only: {meter.writes():g} WRU, {meter.reads():g} RRU, calls {dict(meter.calls)}")
    # Only the success is a transaction (job, event and result together); every other change is
    # two plain writes, the job and its event.
    print(f"item sizes written, bytes: {meter.sizes}")
    assert meter.calls["TransactWriteItems"] == 1
    # By hand: the create, one item and its index entry, 2; the start, job, event and index entry
    # (the status changed), 3; six step changes, job and event, 2 each but step-3 succeeded, whose
    # job item is over 1 KB, 3; the success, twice job (over 1 KB), event and result, and twice
    # its index entry (transactional writes to an index are doubled too), 10. Embedding the whole
    # job in every event and index entry, every change a transaction, wrote 94 (commit 48d5c62).
    assert meter.writes() == 2 + 3 + (5 * 2 + 3) + 10


def test_a_step_change_writes_two_small_items_without_a_transaction_and_nothing_to_the_index(
    service: JobService, metered: tuple[Any, Meter]
) -> None:
    _, meter = metered
    job = started_demo_job(service)
    meter.reset()
    service.record_step(job.id, "step-1", StepStatus.RUNNING)
    assert (meter.units["PutItem"], meter.calls["PutItem"], meter.calls["TransactWriteItems"]) == (1 + 1, 2, 0)


def test_listing_reads_the_jobs_the_index_names_as_they_are_now(
    service: JobService, metered: tuple[Any, Meter]
) -> None:
    _, meter = metered
    finished = run_demo_job(service)
    queued = submit_demo_job(service)
    meter.reset()
    page = service.list_for_tenant("acme", limit=20, cursor=None, status=JobStatus.SUCCEEDED, job_type=None)
    assert finished in [job.id for job in page.jobs]
    assert queued.id not in [job.id for job in page.jobs]
    assert all(job.status is JobStatus.SUCCEEDED and job.progress.percent == 100 for job in page.jobs)
    # One query of the index and one BatchGetItem for the whole page, never a read per job.
    assert (meter.calls["Query"], meter.calls["BatchGetItem"], meter.calls["GetItem"]) == (1, 1, 0)
    # Each job read eventually consistent, at half a unit (jobs under 4 KB).
    assert meter.units["BatchGetItem"] == 0.5 * len(page.jobs)


def test_a_step_event_whose_write_was_lost_is_written_by_the_jobs_next_change(
    service: JobService, metered: tuple[Any, Meter]
) -> None:
    client, _ = metered
    job = started_demo_job(service)

    def throttle_event_writes(params: dict[str, Any], **_: Any) -> None:
        if params["Item"]["sk"]["S"].startswith("EVENT#"):
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected"}}, "PutItem"
            )

    client.meta.events.register("provide-client-params.dynamodb.PutItem", throttle_event_writes)
    try:
        running = service.record_step(job.id, "step-1", StepStatus.RUNNING)
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.PutItem", throttle_event_writes)
    assert running.last_sequence == 2  # the change itself is kept
    assert [e.sequence for e in service.events_for_tenant("acme", job.id, after=0, limit=100).events] == [1]

    service.record_step(job.id, "step-1", StepStatus.SUCCEEDED)
    events = service.events_for_tenant("acme", job.id, after=0, limit=100).events
    assert [(e.sequence, e.type.value) for e in events] == [(1, "job.started"), (2, "job.step"), (3, "job.step")]
    assert events[1].data["job"]["progress"]["steps"][0]["status"] == "running"
    assert to_rfc3339(events[1].timestamp) == to_rfc3339(running.updated_at)
