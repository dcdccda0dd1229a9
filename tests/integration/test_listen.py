"""`jobgate listen`: verifies, prints, de-duplicates and forwards webhooks on 127.0.0.1."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobgate.domain.models import EventType, Job, JobEvent, Progress
from jobgate.domain.status import JobStatus
from jobgate.ids import new_job_id
from jobgate.webhooks.signing import new_webhook_secret, webhook_headers, webhook_id
from jobgate_cli.listen import WebhookListener
from jobgate_cli.main import main
from tests.conftest import REPO

SECRET = new_webhook_secret()
WAIT_SECONDS = 30  # an upper bound for things that happen at once, not a measurement
# The tests talk to 127.0.0.1 only, whatever proxy the environment names.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def event_body(job_id: str, sequence: int = 3) -> bytes:
    """A job.progress event as the webhook dispatcher sends it."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    job = Job(
        id=job_id,
        tenant_id="acme",
        type="demo",
        status=JobStatus.RUNNING,
        progress=Progress(percent=40),
        created_at=now,
        updated_at=now,
        retention_seconds=3600,
    )
    event = JobEvent(sequence=sequence, type=EventType.PROGRESS, timestamp=now, data={"job": job.to_resource()})
    return json.dumps(event.to_json_dict(), separators=(",", ":")).encode()


def signed(body: bytes, msg_id: str, secret: str = SECRET) -> dict[str, str]:
    return webhook_headers([secret], msg_id, int(time.time()), body)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=WAIT_SECONDS) as response:
            status: int = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status


def drain(lines: queue.Queue[str]) -> list[str]:
    """What was printed so far (a request's line is printed before it is answered)."""
    printed = []
    while not lines.empty():
        printed.append(lines.get_nowait())
    return printed


def start(server: ThreadingHTTPServer) -> None:
    threading.Thread(target=server.serve_forever, daemon=True).start()


def stop(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


class Target:
    """The developer's app that --forward-to points at: records what reaches it."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[bytes, dict[str, str]]] = queue.Queue()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.put((body, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, fmt: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks"


@pytest.fixture
def lines() -> queue.Queue[str]:
    return queue.Queue()


@pytest.fixture
def listener(lines: queue.Queue[str]) -> Iterator[WebhookListener]:
    server = WebhookListener(SECRET, port=0, log=lines.put)
    start(server)
    yield server
    stop(server)


@pytest.fixture
def target() -> Iterator[Target]:
    app = Target()
    start(app.server)
    yield app
    stop(app.server)


def test_a_signed_event_is_printed_once_as_one_line(listener: WebhookListener, lines: queue.Queue[str]) -> None:
    job_id = new_job_id()
    body = event_body(job_id)
    assert post(listener.url + "any/path", body, signed(body, webhook_id(job_id, 3))) == 204
    [line] = drain(lines)
    assert line.split() == ["2026-01-01T00:00:00.000Z", job_id, "job.progress", "#3", "running", "40%"]


def test_a_redelivery_with_the_same_webhook_id_is_reported_as_duplicate(
    listener: WebhookListener, lines: queue.Queue[str]
) -> None:
    job_id = new_job_id()
    body = event_body(job_id)
    post(listener.url, body, signed(body, webhook_id(job_id, 3)))
    drain(lines)
    # A retry is signed again with a fresh timestamp but keeps its webhook-id.
    assert post(listener.url, body, signed(body, webhook_id(job_id, 3))) == 200
    [line] = drain(lines)
    assert "duplicate" in line
    assert webhook_id(job_id, 3) in line


def test_a_bad_signature_is_rejected_with_401(listener: WebhookListener, lines: queue.Queue[str]) -> None:
    job_id = new_job_id()
    body = event_body(job_id)
    assert post(listener.url, body, signed(body, webhook_id(job_id, 3), secret=new_webhook_secret())) == 401
    assert post(listener.url, body.replace(b"40", b"99"), signed(body, webhook_id(job_id, 4))) == 401
    assert post(listener.url, body, {"content-type": "application/json"}) == 401
    printed = drain(lines)
    assert len(printed) == 3
    assert all("rejected" in line for line in printed)
    # A rejected request does not count as received: the genuine one is still taken.
    assert post(listener.url, body, signed(body, webhook_id(job_id, 3))) == 204


def test_forwarding_passes_on_the_body_and_webhook_headers(lines: queue.Queue[str], target: Target) -> None:
    listener = WebhookListener(SECRET, port=0, forward_to=target.url, log=lines.put)
    start(listener)
    try:
        job_id = new_job_id()
        first, second = event_body(job_id, 3), event_body(job_id, 4)
        first_headers = signed(first, webhook_id(job_id, 3))
        post(listener.url, first, first_headers)
        post(listener.url, first, signed(first, webhook_id(job_id, 3)))  # duplicate: not forwarded
        post(listener.url, second, signed(second, webhook_id(job_id, 4)))
        arrived = dict(
            (headers["webhook-id"], (body, headers))
            for body, headers in (target.received.get(timeout=WAIT_SECONDS) for _ in range(2))
        )
    finally:
        stop(listener)
    assert set(arrived) == {webhook_id(job_id, 3), webhook_id(job_id, 4)}
    body, headers = arrived[webhook_id(job_id, 3)]
    assert body == first
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type"):
        assert headers[name] == first_headers[name]


def test_a_failing_forward_target_is_reported_and_listening_goes_on(lines: queue.Queue[str], target: Target) -> None:
    unreachable = target.url
    stop(target.server)  # nothing listens on its port any more
    listener = WebhookListener(SECRET, port=0, forward_to=unreachable, log=lines.put)
    start(listener)
    try:
        job_id = new_job_id()
        for sequence in (3, 4):
            body = event_body(job_id, sequence)
            assert post(listener.url, body, signed(body, webhook_id(job_id, sequence))) == 204
            printed = [lines.get(timeout=WAIT_SECONDS) for _ in range(2)]
            assert any(f"{webhook_id(job_id, sequence)} to {unreachable} failed" in line for line in printed)
    finally:
        stop(listener)


def test_ctrl_c_stops_it_cleanly() -> None:
    environment = {**os.environ, "JOBGATE_WEBHOOK_SECRET": SECRET}
    environment["PYTHONPATH"] = os.pathsep.join(
        str(REPO / part) for part in ("layers/jobgate", "cli", "clients/python")
    )
    process = subprocess.Popen(
        # As the `jobgate` script runs it (`-m` would load jobgate_cli.main twice).
        [
            sys.executable,
            "-c",
            "import sys; from jobgate_cli.main import main; sys.exit(main())",
            "listen",
            "--port",
            "0",
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "Listening for webhooks on http://127.0.0.1:" in banner
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=WAIT_SECONDS)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Stopped." in out
    assert "Traceback" not in err


def test_without_a_secret_it_says_where_to_get_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JOBGATE_WEBHOOK_SECRET", raising=False)
    assert main(["listen"]) == 2
    assert "tenants create" in capsys.readouterr().err
    assert main(["listen", "--secret", "not-a-secret"]) == 2
    assert "not a webhook secret" in capsys.readouterr().err


def test_help_says_what_it_is_for(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["listen", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Receive jobgate's webhooks" in text
    assert "--forward-to" in text
