"""Webhook receivers on 127.0.0.1 for the end-to-end tests: recording, down for a while, hanging."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from jobgate_cli.listen import ReceiverServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """Answers 204 and records each request; answers 503 to the first `refuse_first` requests
    (a receiver that is down for a while); `hang` holds every request until `release` is set."""

    refuse_first: int = 0
    refusal_status: int = 503
    hang: bool = False
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        if self.hang:
            self.release.wait(60)
        with self._lock:
            if self.refused < self.refuse_first:
                self.refused += 1
                return self.refusal_status
            self.received.append(Received(headers, body))
            return 204

    def events_of(self, job_id: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.event["data"]["job"]["id"] == job_id]


@contextmanager
def running(receiver: Receiver, host: str = "127.0.0.1") -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.handle({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's naming
            return

    server = ReceiverServer((host, 0), Handler)
    receiver.url = f"http://{host}:{server.server_port}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
