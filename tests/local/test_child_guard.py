"""The guard DynamoDB Local's JVM runs under: the command never outlives whoever started the guard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobgate_cli.local import child_guard
from tests.local.conftest import wait_until

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


@contextmanager
def guarded(command: list[str]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """The guard running `command`, as the stack starts it; (guard, the command's pid)."""
    guard = subprocess.Popen(
        [sys.executable, "-I", child_guard.__file__, *command], stdin=subprocess.PIPE, start_new_session=True
    )
    child = 0
    try:
        children = Path(f"/proc/{guard.pid}/task/{guard.pid}/children")
        child = int(wait_until(lambda: children.read_text().split(), "the guard started its command")[0])
        yield guard, child
    finally:
        for pid in (guard.pid, child):  # only what this test started
            if pid and alive(pid):
                os.kill(pid, signal.SIGKILL)
        guard.wait()


def test_the_command_stops_when_the_starters_end_of_the_pipe_closes() -> None:
    with guarded(SLEEPER) as (guard, child):
        assert guard.stdin is not None
        guard.stdin.close()  # what the kernel does when the starter dies, however it dies
        assert guard.wait(timeout=30) == 128 + signal.SIGTERM
        assert not alive(child)


def test_the_command_dies_with_a_killed_guard() -> None:
    with guarded(SLEEPER) as (guard, child):
        guard.kill()
        guard.wait()
        wait_until(lambda: not alive(child), "the command died with its guard (PR_SET_PDEATHSIG)")


def test_sigterm_stops_the_command_and_a_command_that_ends_ends_the_guard() -> None:
    with guarded(SLEEPER) as (guard, child):
        guard.terminate()
        assert guard.wait(timeout=30) == 128 + signal.SIGTERM
        assert not alive(child)
    with guarded([sys.executable, "-c", "import sys, time; time.sleep(0.5); sys.exit(3)"]) as (guard, _):
        assert guard.wait(timeout=30) == 3
