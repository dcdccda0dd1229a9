"""A stand-in for DNS in the local stack's function processes, which a test's monkeypatch cannot reach.

The e2e stacks have every function process import tests.e2e.fake_dns_in_functions, which calls
install(), before any handler (LocalStackConfig.function_preload). While $JOBGATE_TEST_DNS names a
JSON file {"host": "address" | ["first", "then", ...]}, lookups of its hosts are answered from it,
as tests/conftest.py's fake_dns fixture answers them in the test's own process: a list answers its
first address and drops it, until one is left. The file is the one copy of the answers, so every
process sees the same sequence. Other hosts, or no file: real DNS.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Any

VARIABLE = "JOBGATE_TEST_DNS"
_real_getaddrinfo = socket.getaddrinfo


def set_answers(path: Path, answers: dict[str, str | list[str]]) -> None:
    path.write_text(json.dumps(answers))


def _getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    path = os.environ.get(VARIABLE)
    address = _answer(Path(path), str(host)) if path else None
    if address is None:
        return _real_getaddrinfo(host, port, *args, **kwargs)
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]


def _answer(path: Path, host: str) -> str | None:
    with path.open("r+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # one lookup at a time, across processes
        answers: dict[str, str | list[str]] = json.load(file)
        answer = answers.get(host)
        if not isinstance(answer, list):
            return answer
        address = answer.pop(0) if len(answer) > 1 else answer[0]
        file.seek(0)
        file.truncate()
        json.dump(answers, file)
        return address


def install() -> None:
    socket.getaddrinfo = _getaddrinfo
