"""Run a command that must not outlive the process that started this guard.

    python -I child_guard.py COMMAND [ARG ...]   # stdin: a pipe whose other end the starter holds

The starter (the local stack) keeps the write end of our stdin open and never writes to it.
However the starter ends, SIGKILL included, the kernel closes that end, our read sees the end
of the file, and we stop the command (SIGTERM, then SIGKILL) and exit. SIGTERM to us does the
same. If the command exits by itself, we exit with its status. On Linux the command is also
killed if we are (PR_SET_PDEATHSIG, set in our only thread: the kernel ties it to the thread
that forked, which here lives as long as we do).

Run by path with -I, so it imports nothing of the project and starts in milliseconds.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import sys
from types import FrameType

_PR_SET_PDEATHSIG = 1
STOP_SECONDS = 4.0
POLL_SECONDS = 0.5


def _note_signal(signal_number: int, frame: FrameType | None) -> None:
    """A Python handler, so the signal is written to the wakeup fd the main loop watches."""


def _die_with_the_guard() -> None:
    """In the command's process, before exec (Linux only; elsewhere the stdin watch alone)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main(command: list[str]) -> int:
    # A SIGTERM that comes while the command is being started is seen by the loop below.
    wake_r, wake_w = os.pipe()
    for fd in (wake_r, wake_w):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake_w)
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, _note_signal)
    guard_pid = os.getpid()

    def prepare() -> None:
        _die_with_the_guard()
        if os.getppid() != guard_pid:  # the guard died before the prctl
            os._exit(1)

    # preexec_fn is safe here: this process has one thread.
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=prepare if sys.platform == "linux" else None)
    stdin = sys.stdin.fileno()
    try:
        while child.poll() is None:
            readable, _, _ = select.select([stdin, wake_r], [], [], POLL_SECONDS)
            if wake_r in readable:
                break  # SIGTERM or SIGINT
            if stdin in readable and not os.read(stdin, 4096):
                break  # the starter is gone
    finally:
        _stop(child)
    return child.returncode if child.returncode >= 0 else 128 - child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
