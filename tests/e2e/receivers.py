"""Webhook receivers on 127.0.0.1 for the end-to-end tests: recording, down for a while, hanging, trickling."""

from __future__ import annotations

import json
import socket
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
    (a receiver that is down for a while); `hang` holds every other request until `release` is set."""

    refuse_first: int = 0
    refusal_status: int = 503
    hang: bool = False
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    begun: int = 0  # requests that arrived, held ones included
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.begun += 1
            if self.refused < self.refuse_first:
                self.refused += 1
                return self.refusal_status
        if self.hang:
            self.release.wait(60)
        with self._lock:
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


class TricklingReceiver:
    """Reads each request, then sends `head` at once and `trickle` one byte at a time, a byte
    every `interval` seconds, until released: never a complete answer, never a silent socket.
    The first `refuse_first` requests are answered 503 at once instead."""

    def __init__(self, head: bytes, trickle: bytes, interval: float = 0.1, refuse_first: int = 0) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/hooks"
        self._head, self._trickle, self._interval = head, trickle, interval
        self._refuse_first = refuse_first
        self.released = threading.Event()
        self._lock = threading.Lock()
        self.connections = 0
        self.cut_off = 0  # connections the client closed while bytes were still to come
        self.was_cut_off = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.released.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.connections += 1
                refuse = self.connections <= self._refuse_first
            threading.Thread(target=self._serve, args=(connection, refuse), daemon=True).start()

    def _serve(self, connection: socket.socket, refuse: bool) -> None:
        with connection:
            connection.recv(65536)
            if refuse:
                connection.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                return
            try:
                connection.sendall(self._head)
                index = 0
                while not self.released.wait(self._interval):
                    connection.sendall(self._trickle[index : index + 1])
                    index = (index + 1) % len(self._trickle)
            except OSError:
                with self._lock:
                    self.cut_off += 1
                self.was_cut_off.set()

    def close(self) -> None:
        self.released.set()
        self._listener.close()


@contextmanager
def trickling(head: bytes, trickle: bytes, interval: float = 0.1, refuse_first: int = 0) -> Iterator[TricklingReceiver]:
    receiver = TricklingReceiver(head, trickle, interval, refuse_first)
    try:
        yield receiver
    finally:
        receiver.close()
