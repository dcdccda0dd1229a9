"""`jobgate local` as a developer runs it: SIGTERM stops the whole stack promptly, even mid-invocation,
and a SIGKILL leaves none of its processes behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import requests

from jobgate_cli.billing.prices import Unit
from tests.e2e.conftest import API_KEY, SECRET, eventually
from tests.e2e.receivers import Receiver, running

# Less than the 20 s long-poll in flight: a stop that waited for the invocations would not make it.
STOP_SECONDS = 15


class ArrivalReceiver(Receiver):
    """Hangs every delivery (as a receiver that never answers), and says when the first one arrived."""

    def __init__(self) -> None:
        super().__init__(hang=True)
        self.arrived = threading.Event()

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        self.arrived.set()
        return super().handle(headers, body)


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if fields[0] not in ("Z", "X"):
                children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def start_jobgate_local(*options: str) -> tuple[subprocess.Popen[str], list[str]]:
    """`jobgate local` on free ports with the test tenant; its output lines are collected as they come."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "jobgate_cli.main", "local"),
            *("--port", "0", "--aws-port", "0", "--dynamodb-port", "0", *options),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # The code under test (conftest's path), not whichever jobgate_cli the interpreter has installed.
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "JOBGATE_TENANTS": f"acme:{API_KEY}:{SECRET}"},
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    return process, output


def test_sigterm_stops_jobgate_local_without_waiting_for_the_invocations_in_flight() -> None:
    receiver = ArrivalReceiver()
    with running(receiver):
        process, output = start_jobgate_local()
        try:
            banner = eventually(lambda: "".join(output), lambda text: "Ctrl-C stops" in text, timeout=120)
            api = re.search(r"API\s+(http://127\.0\.0\.1:\d+)", banner)
            assert api, banner
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {API_KEY}"
            job = session.post(
                f"{api.group(1)}/jobs",
                json={"type": "demo", "input": {"steps": 1, "stepSeconds": 0}, "callback": {"url": receiver.url}},
                timeout=30,
            ).json()
            # The webhook dispatcher is now mid-invocation, waiting on a receiver that does not answer,
            # and an API long-poll holds another environment.
            assert receiver.arrived.wait(60), "".join(output)
            long_poll = threading.Thread(
                target=session.get,
                args=(f"{api.group(1)}/jobs/{job['id']}",),
                kwargs={"headers": {"If-None-Match": "*", "Prefer": "wait=20"}, "timeout": 60},
                daemon=True,
            )
            long_poll.start()
            processes = descendants(process.pid)
            assert len(processes) >= 3, processes  # DynamoDB Local, the functions' zygote, its workers
            process.send_signal(signal.SIGTERM)
            assert process.wait(STOP_SECONDS) == 0, "".join(output)
            assert not [pid for pid in processes if alive(pid)]
        finally:
            receiver.release.set()
            if process.poll() is None:
                process.kill()
                process.wait()


def test_sigterm_while_the_stack_starts_gives_the_start_up() -> None:
    process, output = start_jobgate_local()
    try:
        # DynamoDB Local's JVM (a child of the stack) appears early in a start that takes seconds.
        eventually(lambda: descendants(process.pid), lambda found: len(found) >= 1, timeout=60)
        processes = descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(STOP_SECONDS) == 0, "".join(output)
        assert "Ctrl-C stops" not in "".join(output)  # it never finished starting
        assert not [pid for pid in processes | descendants(process.pid) if alive(pid)]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return ""


def test_sigkill_of_jobgate_local_leaves_neither_dynamodb_local_nor_a_function_process_behind() -> None:
    process, output = start_jobgate_local()
    processes: set[int] = set()
    try:
        banner = eventually(lambda: "".join(output), lambda text: "Ctrl-C stops" in text, timeout=120)
        api = re.search(r"API\s+(http://127\.0\.0\.1:\d+)", banner)
        assert api, banner
        jobs = requests.get(f"{api.group(1)}/jobs", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
        assert jobs.status_code == 200  # so the API function has an environment: a worker process
        processes = descendants(process.pid)
        java = [pid for pid in processes if command_line(pid).split(" ")[0].endswith("java")]
        assert java, {pid: command_line(pid) for pid in processes}
        assert len(processes) >= 3, processes  # DynamoDB Local (and its guard), the zygote, a worker

        process.kill()  # no handler runs: nothing of the stack stops anything
        process.wait()
        # The JVM and the function processes notice and end (poll with a guard, no deadline asserted).
        left = eventually(lambda: [pid for pid in processes if alive(pid)], lambda alive_: not alive_, timeout=60)
        assert left == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in processes:  # what this test started, should it have outlived the stack
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_jobgate_local_with_a_meter_writes_the_bill_of_what_it_served_at_sigterm(tmp_path: Path) -> None:
    bill = tmp_path / "bill.json"
    process, output = start_jobgate_local("--meter", str(bill))
    try:
        banner = eventually(lambda: "".join(output), lambda text: "Ctrl-C stops" in text, timeout=120)
        api = re.search(r"API\s+(http://127\.0\.0\.1:\d+)", banner)
        assert api, banner
        assert str(bill) in banner
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {API_KEY}"
        for _ in range(3):
            assert session.get(f"{api.group(1)}/jobs", timeout=30).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(STOP_SECONDS) == 0, "".join(output)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = json.loads(bill.read_text())["lines"]

    def billed(unit: Unit) -> float:
        return float(sum(line["quantity"] for line in lines if line["unit"] == unit.value))

    # three requests, each one HTTP API request and one invocation of the API function
    assert billed(Unit.API_REQUEST) == 3
    assert billed(Unit.LAMBDA_REQUEST) == 3
    assert billed(Unit.DYNAMODB_RRU) > 0  # the key's tenant, the listing
