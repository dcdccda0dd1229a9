"""Webhooks in the local stack: signed, retried until delivered, isolated, SSRF-safe."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from jobgate_cli.local.stack import LocalStack
from tests.e2e import fake_dns
from tests.e2e.conftest import OTHER_API_KEY, SECRET, Client, eventually, start_local_stack
from tests.e2e.receivers import Receiver, running

STATUS_EVENTS = 1 + 2 * 3 + 1  # started, two step changes per step, succeeded


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    # Retries after about 1 s, 3 s, 18 s...; a hanging receiver is given up after 2 s. The sweeper
    # waits 30 s (not 0.6 s) before it starts a twin run of a job still queued, which on a busy
    # machine would add a second run's step events to the exact timelines asserted here.
    stack = start_local_stack(
        time_scale=0.01,
        parameter_overrides={"WebhookAttemptTimeoutSeconds": "2", "SweepIdleSeconds": "3000"},
    )
    yield stack
    stack.stop()


def test_every_event_arrives_signed_and_gapless_though_the_receiver_was_down(client: Client) -> None:
    with running(Receiver(refuse_first=12)) as receiver:
        job = client.submit({"steps": 3, "stepSeconds": 0}, callback={"url": receiver.url})
        client.wait_until_terminal(job["id"])
        arrived = eventually(
            lambda: receiver.events_of(job["id"]),
            lambda found: {r.event["sequence"] for r in found} >= set(range(1, STATUS_EVENTS + 1)),
        )
    assert receiver.refused == 12  # it really was down at first
    verifier = Webhook(SECRET)
    for request in arrived:
        verified = verifier.verify(request.body, request.headers)
        assert request.headers["webhook-id"] == f"{job['id']}.{verified['sequence']}"
    sequences = sorted({r.event["sequence"] for r in arrived})
    assert sequences == list(range(1, STATUS_EVENTS + 1))
    assert arrived[-1].headers["user-agent"].startswith("jobgate")


def test_deliveries_show_each_attempt_to_the_owner_only(client: Client, local_stack: LocalStack) -> None:
    with running(Receiver(refuse_first=1)) as receiver:
        job = client.submit({"steps": 1, "stepSeconds": 0}, callback={"url": receiver.url, "events": ["job.succeeded"]})
        client.wait_until_terminal(job["id"])
        eventually(lambda: receiver.events_of(job["id"]), lambda found: len(found) >= 1)
    attempts = client.request("GET", f"/jobs/{job['id']}/deliveries").json()["items"]
    assert {a["eventType"] for a in attempts} == {"job.succeeded"}
    assert attempts[0]["outcome"] == "retrying"
    assert attempts[0]["statusCode"] == 503
    assert attempts[-1]["outcome"] == "delivered"
    assert attempts[-1]["statusCode"] == 204
    other = Client(local_stack.api_url, OTHER_API_KEY)
    assert other.request("GET", f"/jobs/{job['id']}/deliveries").status_code == 404


def test_redeliver_sends_the_event_again_with_the_same_id(client: Client) -> None:
    with running(Receiver()) as receiver:
        job = client.submit({"steps": 1, "stepSeconds": 0}, callback={"url": receiver.url, "events": ["job.succeeded"]})
        client.wait_until_terminal(job["id"])
        first = eventually(lambda: receiver.events_of(job["id"]), lambda found: len(found) == 1)[0]
        sequence = first.event["sequence"]
        response = client.request("POST", f"/jobs/{job['id']}/deliveries/{sequence}/redeliver")
        assert response.status_code == 202
        again = eventually(lambda: receiver.events_of(job["id"]), lambda found: len(found) == 2)[1]
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert again.body == first.body
    assert client.request("POST", f"/jobs/{job['id']}/deliveries/99/redeliver").status_code == 404


def test_a_hanging_receiver_does_not_hold_up_another_jobs_webhooks(client: Client) -> None:
    with running(Receiver(hang=True)) as hanging, running(Receiver()) as healthy:
        stuck = client.submit({"steps": 2, "stepSeconds": 0}, callback={"url": hanging.url})
        other = client.submit({"steps": 2, "stepSeconds": 0}, callback={"url": healthy.url})
        client.wait_until_terminal(other["id"])
        # Every event of the other job arrives while the hanging receiver still holds its requests.
        eventually(
            lambda: healthy.events_of(other["id"]),
            lambda found: {r.event["type"] for r in found} >= {"job.started", "job.succeeded"},
        )
        assert not hanging.release.is_set()
        assert hanging.received == []
    assert stuck["callback"]["url"] == hanging.url


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1:8080/hooks",
        "https://[::ffff:a9fe:a9fe]/",
        "https://hooks.internal.test/hooks",  # resolves to 10.0.0.5
        "http://127.0.0.2:8080/",  # loopback, but only 127.0.0.1 is allowed locally
    ],
)
def test_private_and_metadata_callbacks_are_422_at_submit(client: Client, url: str) -> None:
    response = client.request("POST", "/jobs", json={"type": "demo", "input": {}, "callback": {"url": url}})
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/callback/url"


def test_a_callback_whose_dns_turns_private_is_never_contacted(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with counting_listener("127.0.0.2") as connections:
        # Public when the job is submitted; then the name points at a loopback address
        # (a stand-in for any internal one) that the local stack does not allow. The functions
        # run in processes of their own: their DNS is faked by tests.e2e.fake_dns.
        answers = tmp_path / "dns.json"
        fake_dns.set_answers(answers, {"rebind.example.com": ["93.184.216.34", "127.0.0.2"]})
        monkeypatch.setenv(fake_dns.VARIABLE, str(answers))
        url = f"https://rebind.example.com:{connections.port}/hooks"
        job = client.submit({"steps": 1, "stepSeconds": 0}, callback={"url": url, "events": ["job.started"]})
        client.wait_until_terminal(job["id"])
        attempts = eventually(
            lambda: client.request("GET", f"/jobs/{job['id']}/deliveries").json()["items"],
            lambda found: len(found) >= 2,
        )
    assert connections.accepted == 0
    assert all(a["error"].startswith("refused:") and a["statusCode"] is None for a in attempts)
    assert "127.0.0.2" in attempts[0]["error"]


class ConnectionCounter:
    def __init__(self, port: int) -> None:
        self.port = port
        self.accepted = 0


@contextmanager
def counting_listener(host: str) -> Iterator[ConnectionCounter]:
    """A TCP listener that only counts who connects: any contact at all would be a leak."""
    server = socket.create_server((host, 0))
    server.settimeout(0.2)
    counter = ConnectionCounter(server.getsockname()[1])
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            counter.accepted += 1
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield counter
    finally:
        stop.set()
        thread.join()
        server.close()
