"""jobgate_client against recorded answers (the `responses` library): what it sends, how it waits,
retries, pages and maps errors. The job bodies are made by the API's own model (JobState), so
they are what the API sends; tests/e2e/test_clients_e2e.py runs the client against the local stack."""

from __future__ import annotations

import io
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from jobgate.domain.models import JobError as ServerJobError
from jobgate.domain.models import JobState, Progress, Step, StepStatus
from jobgate.domain.status import TERMINAL_STATUSES, JobStatus
from jobgate_client import (
    ApiError,
    Client,
    ConnectionFailed,
    InvalidInput,
    Job,
    JobCancelled,
    JobFailed,
    JobTimedOut,
    NotFound,
    ResultNotReady,
    ServiceUnavailable,
    WaitTimeout,
)
from jobgate_client import models as client_models

API = "http://jobgate.test"
JOB_ID = "job_01JDZZZZZZZZZZZZZZZZZZZZZZ"
JOB_URL = f"{API}/jobs/{JOB_ID}"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class FakeTime:
    """The client's clock and sleep: a pause advances the clock at once, and is remembered."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time: FakeTime) -> Client:
    return Client(API, "jg_test-key", sleep=fake_time.sleep, clock=fake_time.clock, max_retries=3)


@pytest.fixture
def api() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def job_body(status: JobStatus = JobStatus.QUEUED, percent: int = 0, **fields: Any) -> dict[str, Any]:
    steps = [Step(name="step-1", status=StepStatus.SUCCEEDED), Step(name="step-2", status=StepStatus.RUNNING)]
    state = JobState(
        id=JOB_ID,
        type="demo",
        status=status,
        progress=Progress(percent=percent, message="working", steps=steps if percent else []),
        created_at=T0,
        updated_at=T0,
        **fields,
    )
    return state.to_resource().to_json_dict()


def problem(status: int, slug: str, **extra: Any) -> dict[str, Any]:
    return {"type": f"urn:jobgate:problem:{slug}", "title": slug.replace("-", " "), "status": status, **extra}


def test_submit_sends_an_idempotency_key_and_reuses_it_when_it_retries_a_503(
    api: Any, client: Client, fake_time: FakeTime
) -> None:
    api.post(f"{API}/jobs", status=503, json=problem(503, "service-unavailable"), headers={"Retry-After": "5"})
    api.post(f"{API}/jobs", status=202, json=job_body(), headers={"Retry-After": "2"})

    job = client.submit("demo", {"steps": 2}, callback="https://hooks.example.com/x")

    assert job.id == JOB_ID
    assert job.status == "queued"
    first, second = (call.request for call in api.calls)
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.headers["Authorization"] == "Bearer jg_test-key"
    assert json.loads(second.body) == {
        "type": "demo",
        "input": {"steps": 2},
        "callback": {"url": "https://hooks.example.com/x"},
    }
    assert fake_time.pauses == [5]


def test_each_submit_has_a_key_of_its_own_unless_given_one(api: Any, client: Client) -> None:
    api.post(f"{API}/jobs", status=202, json=job_body())
    api.post(f"{API}/jobs", status=202, json=job_body())
    api.post(f"{API}/jobs", status=202, json=job_body())

    client.submit("demo", {})
    client.submit("demo", {})
    client.submit("demo", {}, idempotency_key="order-42")

    keys = [call.request.headers["Idempotency-Key"] for call in api.calls]
    assert keys[0] != keys[1]
    assert keys[2] == "order-42"


def test_a_submit_whose_connection_fails_is_sent_again_with_the_same_key(api: Any, client: Client) -> None:
    api.post(f"{API}/jobs", body=requests.ConnectionError("connection reset"))
    api.post(f"{API}/jobs", status=202, json=job_body())

    assert client.submit("demo", {}).id == JOB_ID
    first, second = (call.request for call in api.calls)
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_wait_honours_retry_after_long_polls_with_the_last_etag_and_reports_each_change(
    api: Any, client: Client, fake_time: FakeTime
) -> None:
    api.get(JOB_URL, json=job_body(), headers={"ETag": '"a.1"', "Retry-After": "2"})
    api.get(JOB_URL, status=304, headers={"ETag": '"a.1"', "Retry-After": "3"})
    api.get(JOB_URL, json=job_body(JobStatus.RUNNING, 60), headers={"ETag": '"a.3"', "Retry-After": "4"})
    api.get(JOB_URL, json=job_body(JobStatus.SUCCEEDED, 100), headers={"ETag": '"a.4"'})
    seen: list[Job] = []

    job = client.wait(JOB_ID, on_progress=seen.append)

    assert job.status == "succeeded"
    assert [(j.status, j.progress.percent) for j in seen] == [("queued", 0), ("running", 60), ("succeeded", 100)]
    assert seen[1].progress.current_step == "step-2"
    polls = [call.request.headers for call in api.calls[1:]]
    assert [h["If-None-Match"] for h in polls] == ['"a.1"', '"a.1"', '"a.3"']
    assert {h["Prefer"] for h in polls} == {"wait=20"}
    assert "If-None-Match" not in api.calls[0].request.headers
    assert fake_time.pauses == [2, 3, 4]


@pytest.mark.parametrize(
    ("body", "raised"),
    [
        (job_body(JobStatus.FAILED, error=ServerJobError(type="DemoStepFailed", title="t", detail="d")), JobFailed),
        (
            job_body(JobStatus.FAILED, error=ServerJobError(type="execution-timed-out", title="t", detail="late")),
            JobTimedOut,
        ),
        (job_body(JobStatus.CANCELLED), JobCancelled),
    ],
)
def test_wait_raises_a_typed_error_carrying_the_jobs_error_when_it_does_not_succeed(
    api: Any, client: Client, body: dict[str, Any], raised: type[Exception]
) -> None:
    api.get(JOB_URL, json=body, headers={"ETag": '"a.5"'})

    with pytest.raises(raised) as caught:
        client.wait(JOB_ID)

    assert caught.type is raised
    assert caught.value.job.status == body["status"]  # type: ignore[attr-defined]
    expected_error = body["error"]["type"] if body["error"] else None
    assert (caught.value.error.type if caught.value.error else None) == expected_error  # type: ignore[attr-defined]


def test_wait_gives_up_after_its_timeout_with_the_last_job_seen(api: Any, client: Client, fake_time: FakeTime) -> None:
    running = job_body(JobStatus.RUNNING, 10)
    api.get(JOB_URL, json=running, headers={"ETag": '"a.2"', "Retry-After": "30"})

    def held_without_a_change(request: Any) -> tuple[int, dict[str, str], str]:
        fake_time.now += int(request.headers["Prefer"].removeprefix("wait="))
        return 304, {"ETag": '"a.2"', "Retry-After": "30"}, ""

    api.add_callback(responses.GET, JOB_URL, callback=held_without_a_change)

    with pytest.raises(WaitTimeout) as caught:
        client.wait(JOB_ID, timeout=45)

    assert caught.value.job.status == "running"
    # 30 s as asked, then a long-poll of at most the 15 s left.
    assert api.calls[1].request.headers["Prefer"] == "wait=15"
    assert fake_time.pauses == [30]


def test_events_pages_through_the_timeline_with_after(api: Any, client: Client) -> None:
    def event(sequence: int) -> dict[str, Any]:
        return {
            "sequence": sequence,
            "type": "job.step",
            "timestamp": "2026-12-01T12:00:00.000Z",
            "data": {"job": job_body()},
        }

    api.get(f"{JOB_URL}/events", json={"items": [event(1), event(2)], "next": "2"})
    api.get(f"{JOB_URL}/events", json={"items": [event(3)], "next": None})

    assert [e.sequence for e in client.events(JOB_ID)] == [1, 2, 3]
    assert [call.request.params["after"] for call in api.calls] == ["0", "2"]


def test_list_follows_cursors_and_keeps_the_filters(api: Any, client: Client) -> None:
    api.get(f"{API}/jobs", json={"items": [job_body(JobStatus.FAILED)], "next": "c2"})
    api.get(f"{API}/jobs", json={"items": [job_body(JobStatus.FAILED)], "next": None})

    assert len(list(client.list(status="failed", type="demo"))) == 2
    assert [call.request.params for call in api.calls] == [
        {"status": "failed", "type": "demo"},
        {"status": "failed", "type": "demo", "cursor": "c2"},
    ]


def test_a_large_result_is_fetched_from_the_303_location_without_the_api_key(
    api: Any, client: Client, tmp_path: Path
) -> None:
    signed = "http://objects.test/results/r.json?X-Amz-Signature=abc"
    large = {"rows": list(range(20_000))}
    for _ in range(2):
        api.get(f"{JOB_URL}/result", status=303, headers={"Location": signed})
        api.get(signed, body=json.dumps(large))

    assert client.result(JOB_ID) == large
    written = client.save_result(JOB_ID, tmp_path / "result.json")

    assert json.loads((tmp_path / "result.json").read_text()) == large
    assert written == len(json.dumps(large))
    assert "Authorization" not in api.calls[1].request.headers


def test_a_result_not_ready_is_a_typed_conflict_with_the_jobs_status(api: Any, client: Client) -> None:
    api.get(f"{JOB_URL}/result", status=409, json=problem(409, "result-not-ready", jobStatus="running"))

    with pytest.raises(ResultNotReady) as caught:
        client.result(JOB_ID)

    assert (caught.value.status, caught.value.job_status) == (409, "running")


def test_upload_asks_for_a_url_then_puts_the_file_there(api: Any, client: Client, tmp_path: Path) -> None:
    signed = "http://objects.test/uploads/acme/upl_1?X-Amz-Signature=abc"
    created = {"uploadId": "upl_1", "url": signed, "method": "PUT", "expiresAt": "2026-12-01T13:00:00.000Z"}
    api.post(f"{API}/uploads", status=201, json=created)
    api.put(signed, status=200)
    (tmp_path / "rows.csv").write_bytes(b"id,name\n1,Ada\n")

    upload = client.upload(tmp_path / "rows.csv")

    assert upload.upload_id == "upl_1"
    put = api.calls[1].request
    assert put.body == b"id,name\n1,Ada\n"
    assert "Authorization" not in put.headers


def test_an_upload_put_refused_by_the_object_store_is_raised_with_its_answer(api: Any, client: Client) -> None:
    signed = "http://objects.test/uploads/acme/upl_1"
    created = {"uploadId": "upl_1", "url": signed, "method": "PUT", "expiresAt": "2026-12-01T13:00:00.000Z"}
    api.post(f"{API}/uploads", status=201, json=created)
    api.put(signed, status=403, body="<Error><Code>SignatureDoesNotMatch</Code></Error>")

    with pytest.raises(ApiError) as caught:
        client.upload(io.BytesIO(b"data"))

    assert caught.value.status == 403
    assert "SignatureDoesNotMatch" in caught.value.detail


def test_problem_answers_become_typed_errors_with_their_fields(api: Any, client: Client) -> None:
    field_error = {"pointer": "#/input/steps", "detail": "Input should be less than or equal to 20"}
    api.post(f"{API}/jobs", status=422, json=problem(422, "invalid-request", detail="bad input", errors=[field_error]))
    api.get(JOB_URL, status=404, json=problem(404, "job-not-found", detail="no such job"))

    with pytest.raises(InvalidInput) as invalid:
        client.submit("demo", {"steps": 99})
    with pytest.raises(NotFound) as missing:
        client.get(JOB_ID)

    assert (invalid.value.type, invalid.value.detail) == ("urn:jobgate:problem:invalid-request", "bad input")
    assert invalid.value.errors == [field_error]
    assert "#/input/steps" in str(invalid.value)
    assert missing.value.status == 404


def test_503_is_retried_a_bounded_number_of_times_then_raised(api: Any, fake_time: FakeTime) -> None:
    client = Client(API, "k", sleep=fake_time.sleep, max_retries=2, max_retry_after=10)
    api.get(JOB_URL, status=503, json=problem(503, "service-unavailable"), headers={"Retry-After": "120"})

    with pytest.raises(ServiceUnavailable) as caught:
        client.get(JOB_ID)

    assert len(api.calls) == 3
    assert fake_time.pauses == [10, 10]  # Retry-After 120, capped at max_retry_after
    assert caught.value.retry_after == 120


def test_a_cancel_whose_connection_fails_is_not_sent_again(api: Any, client: Client) -> None:
    # A second DELETE of a job the first one cancelled would purge it.
    api.delete(JOB_URL, body=requests.ConnectionError("connection reset"))

    with pytest.raises(ConnectionFailed):
        client.cancel(JOB_ID)

    assert len(api.calls) == 1


def test_cancel_returns_the_job_and_a_purge_returns_none(api: Any, client: Client) -> None:
    api.delete(JOB_URL, status=202, json=job_body(JobStatus.CANCELLED))
    api.delete(JOB_URL, status=204)

    cancelled = client.cancel(JOB_ID)

    assert cancelled is not None
    assert cancelled.status == "cancelled"
    assert client.cancel(JOB_ID) is None


def test_an_api_that_is_not_listening_is_a_clear_connection_error(fake_time: FakeTime) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    client = Client(f"http://127.0.0.1:{port}", "k", sleep=fake_time.sleep, max_retries=1)

    with pytest.raises(ConnectionFailed) as caught:
        client.get(JOB_ID)

    assert f"GET http://127.0.0.1:{port}/jobs/{JOB_ID} failed" in str(caught.value)
    assert fake_time.pauses == [1.0]  # a read is tried again once before giving up


def test_the_clients_statuses_are_the_apis() -> None:
    # The client is installed without the server's code, so it spells the statuses itself.
    assert {s.value for s in client_models.JobStatus} == {s.value for s in JobStatus}
    assert {s.value for s in client_models.TERMINAL_STATUSES} == {s.value for s in TERMINAL_STATUSES}


def test_an_api_that_accepts_but_never_answers_is_a_connection_error_after_the_timeout(fake_time: FakeTime) -> None:
    with socket.socket() as hanging:
        hanging.bind(("127.0.0.1", 0))
        hanging.listen()  # connections are accepted by the kernel; nothing ever answers
        port = hanging.getsockname()[1]
        client = Client(f"http://127.0.0.1:{port}", "k", timeout=0.2, max_retries=0, sleep=fake_time.sleep)

        with pytest.raises(ConnectionFailed) as caught:
            client.get(JOB_ID)

    assert isinstance(caught.value.cause, requests.Timeout)


def test_an_upload_put_the_object_store_throttles_is_sent_again_from_the_files_start(
    api: Any, client: Client, tmp_path: Path
) -> None:
    signed = "http://objects.test/uploads/acme/upl_2"
    created = {"uploadId": "upl_2", "url": signed, "method": "PUT", "expiresAt": "2026-12-01T13:00:00.000Z"}
    api.post(f"{API}/uploads", status=201, json=created)
    api.put(signed, status=503, body="<Error><Code>SlowDown</Code></Error>")
    api.put(signed, status=200)
    (tmp_path / "rows.csv").write_bytes(b"id,name\n1,Ada\n2,Grace\n")

    client.upload(tmp_path / "rows.csv")

    assert [call.request.body for call in api.calls[1:]] == [b"id,name\n1,Ada\n2,Grace\n"] * 2
