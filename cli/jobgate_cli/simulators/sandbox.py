"""What the payment and shipping sandboxes share: idempotent request replay and a call log.

Each app answers `GET /_sandbox/calls` with every request it received, in order, the way a
provider's sandbox dashboard lists requests; the end-to-end tests read it to see which
charges, refunds and cancellations happened and in which order.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass
class Sandbox:
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[dict[str, Any]] = field(default_factory=list)
    # First answer (status, body) of each idempotency key; a repeat gets it again.
    replies: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    attempts: Counter[str] = field(default_factory=Counter)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def record(self, status: int, **extra: Any) -> None:
        with self.lock:
            self.calls.append(
                {
                    "at": time.time(),
                    "method": request.method,
                    "path": request.path,
                    "idempotencyKey": request.headers.get(IDEMPOTENCY_HEADER),
                    "status": status,
                    **extra,
                }
            )

    def reply(self, status: int, body: dict[str, Any], **extra: Any) -> Response:
        self.record(status, **extra)
        response = jsonify(body)
        response.status_code = status
        return response

    def replayed(self, key: str) -> Response | None:
        """The first answer again, for a repeat of an idempotency key already answered."""
        with self.lock:
            first = self.replies.get(key)
        return None if first is None else self.reply(first[0], first[1], replayed=True)

    def settle(self, key: str, status: int, answer: dict[str, Any], created: dict[str, dict[str, Any]]) -> Response:
        """Answer a write once per key: of two concurrent first attempts the first to finish
        wins and the other gets its answer; a created object (201) is kept in `created`."""
        with self.lock:
            status, answer = self.replies.setdefault(key, (status, answer))
            if status == 201:
                created.setdefault(str(answer["id"]), answer)
        return self.reply(status, answer)

    def find_by_key(self, objects: dict[str, dict[str, Any]]) -> Response:
        """GET ...?idempotencyKey=K: what the write with that key created (how undo finds it)."""
        key = request.args.get("idempotencyKey", "")
        with self.lock:
            found = [dict(o) for o in objects.values() if o["idempotencyKey"] == key]
        return self.reply(200, {"items": found})


def problem(status: int, error: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": error, "message": message}


def add_call_log(app: Flask, sandbox: Sandbox) -> None:
    @app.get("/_sandbox/calls")
    def calls() -> Response:
        with sandbox.lock:
            return jsonify({"items": list(sandbox.calls)})
