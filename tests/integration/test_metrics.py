"""What the functions tell CloudWatch: each fact once, where it happens, with few-valued dimensions.

The handlers run as Lambda runs them and print their EMF lines; the tests read those lines, as
CloudWatch Logs would, and check them against docs/operations.md, "Metrics and traces".
"""

from __future__ import annotations

import copy
import importlib
import numbers
import re
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

import demo_step
import execution_reconciler
import webhook_retry
from jobgate import observability, wiring
from jobgate.store.executions import execution_arn
from jobgate.store.jobs import JobStore
from jobgate.tenants import TenantCredentials
from jobgate.webhooks.delivery import RetryMessage
from tests.api import STANDARD_DEMO, ApiClient
from tests.conftest import REPO, LambdaContext, load_event
from tests.e2e.receivers import Receiver, running
from tests.emf import Datum, data, emf_lines, names, total
from tests.workflow import lifecycle, run_demo_step, run_to_success

OPERATIONS = REPO / "docs" / "operations.md"
# Besides `service`, the only dimensions a metric may have (docs/operations.md).
LOW_CARDINALITY = {"service", "JobType", "Outcome"}


@pytest.fixture
def client(tenant: TenantCredentials) -> ApiClient:
    return ApiClient(tenant.api_key)


def printed(capsys: pytest.CaptureFixture[str]) -> str:
    """What the functions printed since the last call."""
    return capsys.readouterr().out


def documented_metrics() -> dict[str, tuple[str, set[str]]]:
    """docs/operations.md's table: metric -> (unit, extra dimensions)."""
    table: dict[str, tuple[str, set[str]]] = {}
    for row in re.findall(r"^\| `(\w+)` \| (\w+) \| ([^|]*) \|", OPERATIONS.read_text(), re.MULTILINE):
        name, unit, dimensions = row
        table[name] = (unit, set(re.findall(r"`(\w+)`", dimensions)))
    return table


def check_against_the_documentation(found: list[Datum]) -> None:
    documented = documented_metrics()
    for datum in found:
        unit, dimensions = documented[datum.name]
        assert (datum.namespace, datum.unit) == ("jobgate", unit), datum
        assert set(datum.dimensions) == {"service", *dimensions}, datum
        assert datum.dimensions["service"] == "jobgate"
        assert datum.dimensions.get("Outcome", "delivered") in {"delivered", "failed"}


def test_a_demo_job_is_counted_submitted_started_and_succeeded_with_its_times(
    client: ApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    job_input = {"steps": 2, "stepSeconds": 0}
    job_id = client.submit(job_input).json["id"]
    run_to_success(job_id, job_input)

    out = printed(capsys)
    assert total(out, "JobsSubmitted", JobType="demo") == 1
    assert total(out, "JobsStarted", JobType="demo") == 1
    assert total(out, "JobsSucceeded", JobType="demo") == 1
    assert names(out) == {"JobsSubmitted", "JobsStarted", "TimeQueued", "JobsSucceeded", "JobDuration"}
    (queued,) = [d for d in data(out) if d.name == "TimeQueued"]
    (duration,) = [d for d in data(out) if d.name == "JobDuration"]
    assert 0 <= queued.values[0] <= duration.values[0]
    check_against_the_documentation(data(out))
    # The job id is in each job metric's line, as metadata: a line can be traced to its job.
    assert {line.get("jobId") for line in emf_lines(out)} == {job_id}


def test_an_idempotent_replay_is_not_counted_as_a_second_submit(
    tenant: TenantCredentials, capsys: pytest.CaptureFixture[str]
) -> None:
    client = ApiClient(tenant.api_key, {"Idempotency-Key": "order-1"})
    first = client.submit(STANDARD_DEMO)
    replay = client.submit(STANDARD_DEMO)

    assert first.json["id"] == replay.json["id"]
    assert total(printed(capsys), "JobsSubmitted", JobType="demo") == 1


def test_failed_and_cancelled_jobs_are_counted_as_such(client: ApiClient, capsys: pytest.CaptureFixture[str]) -> None:
    failing = client.submit(STANDARD_DEMO).json["id"]
    lifecycle("start", failing)
    lifecycle("fail", failing, error={"Error": "States.TaskFailed", "Cause": "boom"})
    cancelled = client.submit(STANDARD_DEMO).json["id"]
    assert client.delete(f"/jobs/{cancelled}").json["status"] == "cancelled"

    out = printed(capsys)
    assert total(out, "JobsFailed", JobType="demo") == 1
    assert total(out, "JobsCancelled", JobType="demo") == 1
    assert total(out, "JobsSucceeded", JobType="demo") == 0
    assert len([d for d in data(out) if d.name == "JobDuration"]) == 2
    check_against_the_documentation(data(out))


def test_a_change_that_lost_a_race_is_retried_and_counted(
    client: ApiClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = client.submit(STANDARD_DEMO).json["id"]
    lifecycle("start", job_id)
    read_for_change = JobStore.read_for_change
    raced: list[bool] = []

    def another_writer_gets_in_between(self: JobStore, job_id: str) -> Any:
        stored = read_for_change(self, job_id)
        if not raced:
            raced.append(True)
            assert wiring.job_service().advance_progress(job_id, "Another writer.", 10)
        return stored

    monkeypatch.setattr(JobStore, "read_for_change", another_writer_gets_in_between)
    printed(capsys)
    run_demo_step(job_id, STANDARD_DEMO, index=0)

    out = printed(capsys)
    assert total(out, "StoreConflictsRetried") == 1
    check_against_the_documentation(data(out))


def test_reconciler_and_sweeper_repairs_are_counted_only_when_they_change_a_job(
    client: ApiClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import job_sweeper

    def execution_ended(job_id: str) -> None:
        event = copy.deepcopy(load_event("execution_reconciler_timed_out.json"))
        event["detail"].update({"name": job_id, "status": "TIMED_OUT"})
        execution_reconciler.handler(event, LambdaContext(function_name="jobgate-execution-reconciler"))  # type: ignore[arg-type]

    running_job = client.submit(STANDARD_DEMO).json["id"]
    lifecycle("start", running_job)
    execution_ended(running_job)
    execution_ended(running_job)  # the job has ended already: nothing repaired
    for name, seconds in {"SWEEP_IDLE_SECONDS": 0, "QUEUED_JOB_START_TIMEOUT_SECONDS": 600}.items():
        monkeypatch.setenv(name, str(seconds))
    monkeypatch.setenv("EXPRESS_JOB_TIMEOUT_SECONDS", "300")
    stopped = client.submit(STANDARD_DEMO).json["id"]
    lifecycle("start", stopped)
    service = wiring.job_service()
    job = service.peek(stopped)
    assert job is not None
    boto3.client("stepfunctions").stop_execution(executionArn=execution_arn(service.state_machine_of(job), stopped))
    sweep = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    for _ in range(2):  # the second sweep finds nothing to do
        job_sweeper.handler(sweep, LambdaContext(function_name="jobgate-job-sweeper"))  # type: ignore[arg-type]

    out = printed(capsys)
    assert total(out, "ReconcilerRepairs") == 1
    assert total(out, "SweeperRepairs") == 1
    assert total(out, "JobsFailed", JobType="demo") == 2
    check_against_the_documentation(data(out))


def retry_delivery(job_id: str, sequence: int, round_: int) -> None:
    event = copy.deepcopy(load_event("webhook_retry_due_retry.json"))
    message = RetryMessage(job_id=job_id, sequence=sequence, attempt=round_, round=round_, due_at=0)
    event["Records"][0]["body"] = message.model_dump_json(by_alias=True)
    outcome = webhook_retry.handler(event, LambdaContext(function_name="jobgate-webhook-retry"))  # type: ignore[arg-type]
    assert outcome == {"batchItemFailures": []}


@pytest.fixture
def queues(aws_backend: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    sqs = boto3.client("sqs")
    urls = {name: sqs.create_queue(QueueName=f"jobgate-test-{name}")["QueueUrl"] for name in ("retry", "dead")}
    monkeypatch.setenv("WEBHOOK_RETRY_QUEUE_URL", urls["retry"])
    monkeypatch.setenv("WEBHOOK_DEAD_LETTER_QUEUE_URL", urls["dead"])
    monkeypatch.setenv("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32")
    return urls


def test_webhook_attempts_are_counted_by_outcome_with_retries_dead_letters_and_latency(
    client: ApiClient, queues: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with running(Receiver(refuse_first=2, refusal_status=500)) as receiver:
        job_id = client.submit(STANDARD_DEMO, callback={"url": receiver.url}).json["id"]
        lifecycle("start", job_id)  # event 1: job.started
        printed(capsys)
        retry_delivery(job_id, 1, round_=1)  # 500: retried later
        retry_delivery(job_id, 1, round_=10)  # 500 after the schedule's last retry: dead-lettered
        retry_delivery(job_id, 1, round_=1)  # 204
        assert len(receiver.received) == 1

    out = printed(capsys)
    assert total(out, "WebhookAttempts", Outcome="failed") == 2
    assert total(out, "WebhookAttempts", Outcome="delivered") == 1
    assert total(out, "WebhookRetriesScheduled") == 1
    assert total(out, "WebhookDeadLettered") == 1
    (latency,) = [d for d in data(out) if d.name == "WebhookDeliveryLatency"]
    assert latency.values[0] > 0
    check_against_the_documentation(data(out))
    dead = boto3.client("sqs").receive_message(QueueUrl=queues["dead"], MaxNumberOfMessages=10)
    assert len(dead.get("Messages", [])) == 1


def test_no_metric_of_a_whole_flow_has_a_tenant_or_job_dimension(
    client: ApiClient, tenant: TenantCredentials, queues: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with running(Receiver(refuse_first=1)) as receiver:
        job_input = {"steps": 2, "stepSeconds": 0}
        succeeded = client.submit(job_input, callback={"url": receiver.url}).json["id"]
        run_to_success(succeeded, job_input)
        retry_delivery(succeeded, 1, round_=1)
        retry_delivery(succeeded, 1, round_=2)
        cancelled = client.submit(STANDARD_DEMO).json["id"]
        client.delete(f"/jobs/{cancelled}")

    found = data(printed(capsys))
    assert {"JobsSubmitted", "JobsSucceeded", "JobsCancelled", "WebhookAttempts"} <= {d.name for d in found}
    for datum in found:
        assert set(datum.dimensions) <= LOW_CARDINALITY, datum
        assert not {tenant.tenant_id, succeeded, cancelled} & set(datum.dimensions.values()), datum
    check_against_the_documentation(found)


class RecordedSegment(BaseSegment):
    def __init__(self, name: str) -> None:
        self.name = name
        self.annotations: dict[str, Any] = {}
        self.metadata: dict[tuple[str, str], Any] = {}

    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        self.annotations[key] = value

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.metadata[(namespace, key)] = value

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass


class RecordingProvider(BaseProvider):
    """X-Ray as Powertools' Tracer talks to it; annotations and metadata go to the open subsegment."""

    def __init__(self) -> None:
        self.subsegments: list[RecordedSegment] = []
        self._open: list[RecordedSegment] = []

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        segment = RecordedSegment(name or "")
        self.subsegments.append(segment)
        self._open.append(segment)
        try:
            yield segment
        finally:
            self._open.pop()

    def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> Any:
        raise NotImplementedError

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        self._current().put_annotation(key, value)

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self._current().put_metadata(key, value, namespace)

    def _current(self) -> RecordedSegment:
        # Outside any subsegment: a handler traced before this test's Tracer was put on.
        return self._open[-1] if self._open else RecordedSegment("(none)")

    def patch(self, modules: Any) -> None:
        pass

    def patch_all(self) -> None:
        pass


@pytest.fixture
def xray(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProvider]:
    """The functions traced as on Lambda, into a recording provider; the demo handler re-imported,
    so that its first invocation puts the Tracer on (observability.instrumented)."""
    provider = RecordingProvider()
    Tracer._reset_config()  # type: ignore[no-untyped-call]
    traced = Tracer(provider=provider, disabled=False, auto_patch=False)
    monkeypatch.setattr(observability, "tracer", lambda: traced)
    importlib.reload(demo_step)
    yield provider
    Tracer._reset_config()  # type: ignore[no-untyped-call]
    importlib.reload(demo_step)


def test_a_task_is_traced_with_its_job_type_annotated_and_its_job_id_as_metadata(
    client: ApiClient, xray: RecordingProvider
) -> None:
    job_id = client.submit(STANDARD_DEMO).json["id"]
    xray.subsegments.clear()  # the API's, if its first invocation was in this test
    run_demo_step(job_id, STANDARD_DEMO, index=0)

    (handler,) = [segment for segment in xray.subsegments if segment.name == "## handler"]
    assert handler.annotations["JobType"] == "demo"
    assert handler.annotations["ColdStart"] in {True, False}
    assert handler.metadata[("jobgate", "jobId")] == job_id
    assert not [key for key in handler.metadata if key[1].endswith("response")]  # a tenant's data stays out
