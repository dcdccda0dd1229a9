"""Clients a user builds against the local stack: a webhook receiver made with jobgate_client.webhooks,
and a Python client generated from /openapi.json with openapi-python-client."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import pytest
import requests

from jobgate_cli.local.stack import LocalStack
from jobgate_client.webhooks import WebhookEvent, WebhookReceiver
from tests.conftest import REPO
from tests.e2e.conftest import API_KEY, SECRET, TERMINAL, Client, eventually

EXAMPLE = REPO / "clients/python/examples/receiver.py"
# Demo with two steps: started, a running and a succeeded change per step, succeeded.
DEMO_INPUT = {"steps": 2, "stepSeconds": 0}
DEMO_EVENTS = 1 + 2 * 2 + 1
GENERATED_PACKAGE = "jobgate_openapi_client"
# No formatter hooks (they would need ruff on PATH), and a package name apart from jobgate_client.
GENERATOR_CONFIG = f"""\
post_hooks: []
project_name_override: jobgate-openapi-client
package_name_override: {GENERATED_PACKAGE}
"""


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("receiver_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FirstAttemptRefused:
    """WSGI middleware: answers 503 to the first attempt of one event (the sender retries it, by
    then later events have arrived) and records what each request was answered."""

    def __init__(self, app: WSGIApplication, refused_sequence: int) -> None:
        self.app = app
        self.refused_suffix = f".{refused_sequence}"
        self.refused = 0
        self.answers: list[tuple[str, str]] = []  # (webhook-id, status line)
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        msg_id = environ.get("HTTP_WEBHOOK_ID", "")
        with self._lock:
            refuse = msg_id.endswith(self.refused_suffix) and self.refused == 0
            self.refused += refuse
        if refuse:
            self.answers.append((msg_id, "503"))
            start_response("503 Service Unavailable", [("Content-Length", "0")])
            return [b""]

        def recording(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            self.answers.append((msg_id, status.split()[0]))
            return start_response(status, headers)

        return self.app(environ, recording)


def test_the_receiver_hands_over_every_event_once_and_in_order(client: Client) -> None:
    handed: list[WebhookEvent] = []
    # A gap waits long enough for the sender's first retry (5 s at the stack's time scale of 0.5).
    receiver = WebhookReceiver([SECRET], handed.append, gap_timeout=60)
    app = FirstAttemptRefused(receiver.wsgi_app, refused_sequence=2)
    server = load_example().serve(app, 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/jobgate"
        job = client.submit(DEMO_INPUT, callback={"url": url})
        client.wait_until_terminal(job["id"])
        eventually(lambda: len(handed), lambda count: count >= DEMO_EVENTS)
        timeline = client.request("GET", f"/jobs/{job['id']}/events").json()["items"]
        # Redeliver one: the receiver takes it as the duplicate it is.
        assert client.request("POST", f"/jobs/{job['id']}/deliveries/3/redeliver").status_code == 202
        eventually(lambda: [a for a in app.answers if a[0].endswith(".3")], lambda found: len(found) == 2)
    finally:
        server.shutdown()
        server.server_close()
        receiver.close()
    assert [event.body for event in handed] == timeline
    assert [event.sequence for event in handed] == list(range(1, DEMO_EVENTS + 1))
    assert [event.job["status"] for event in handed] == ["running"] * (DEMO_EVENTS - 1) + ["succeeded"]
    assert app.refused == 1
    # Event 3 (written a moment after 2, in the same task) waited for 2's retry; its redelivery
    # was a duplicate.
    assert [status for msg_id, status in app.answers if msg_id == f"{job['id']}.3"] == ["202", "200"]
    assert [status for msg_id, status in app.answers if msg_id == f"{job['id']}.2"] == ["503", "204"]


@pytest.fixture(scope="module")
def generated_client(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The API's own document, turned into a Python package by openapi-python-client (offline)."""
    work = tmp_path_factory.mktemp("openapi")
    document = work / "openapi.json"
    document.write_bytes(requests.get(f"{local_stack.api_url}/openapi.json", timeout=30).content)
    (work / "config.yaml").write_text(GENERATOR_CONFIG)
    command = [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(document)]
    command += ["--config", str(work / "config.yaml"), "--meta", "none", "--fail-on-warning"]
    command += ["--output-path", str(work / GENERATED_PACKAGE)]
    generated = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module(GENERATED_PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [m for m in sys.modules if m.split(".")[0] == GENERATED_PACKAGE]:
            del sys.modules[name]


def test_a_client_generated_from_the_openapi_document_submits_and_reads_a_job(
    generated_client: ModuleType, local_stack: LocalStack
) -> None:
    api = importlib.import_module(f"{GENERATED_PACKAGE}.api.default")
    models = importlib.import_module(f"{GENERATED_PACKAGE}.models")
    for operation in ("submit_job", "get_job", "list_events"):
        importlib.import_module(f"{GENERATED_PACKAGE}.api.default.{operation}")
    client = generated_client.AuthenticatedClient(
        base_url=local_stack.api_url, token=API_KEY, httpx_args={"trust_env": False}
    )
    with client:
        request = models.SubmitJobRequest.from_dict({"type": "demo", "input": DEMO_INPUT})
        submitted = api.submit_job.sync_detailed(client=client, body=request, idempotency_key="openapi-e2e-1")
        assert submitted.status_code == 202, submitted.content
        job = submitted.parsed
        assert isinstance(job, models.JobResource)
        assert job.status == models.JobStatus.QUEUED
        assert job.links.self_ == f"/jobs/{job.id}"

        deadline = time.monotonic() + 60
        read = api.get_job.sync_detailed(job.id, client=client)
        while read.parsed.status.value not in TERMINAL:
            assert time.monotonic() < deadline, read.parsed.status
            polled = api.get_job.sync_detailed(
                job.id, client=client, if_none_match=read.headers["ETag"], prefer="wait=5"
            )
            if polled.status_code == 200:
                read = polled
        assert read.parsed.status == models.JobStatus.SUCCEEDED
        assert read.parsed.progress.percent == 100

        events = api.list_events.sync(job.id, client=client, after=0)
        assert isinstance(events, models.EventList)
        assert [event.sequence for event in events.items] == list(range(1, DEMO_EVENTS + 1))
        assert events.items[-1].type_ == models.EventType.JOB_SUCCEEDED
        later = api.list_events.sync(job.id, client=client, after=DEMO_EVENTS - 1)
        assert [event.sequence for event in later.items] == [DEMO_EVENTS]

        missing = api.get_job.sync_detailed("job_01J00000000000000000000000", client=client)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.Problem)
