"""BENCH.md item 3: local stack throughput and latency, 1,000 `demo` jobs from 16 clients.

Starts the local stack as `make run` does, `jobgate local`, in a child process of its own (its
output to a log file), so that this process, the load generator, does not share the stack's
interpreter: 16 client threads (one requests.Session each) and a webhook receiver on 127.0.0.1
that verifies every delivery with `standardwebhooks` and de-duplicates by `webhook-id`. The
clients submit their share of the jobs back to back, each job with a callback to the receiver,
then wait for every job as a good client does: conditional GETs (`If-None-Match`) at the
`Retry-After` the API asks for, a long-poll (`Prefer: wait=20`) once there are no more jobs left
than clients, and a GET as soon as a terminal webhook says so. Then each job's timeline
(`GET /jobs/{id}/events`) says which webhooks should have arrived. At the end the stack gets
SIGTERM, and the table says how long it took to exit and whether any of its processes outlived it.

Prints one table and writes the figures under "load" in bench/results/latest.json (other
items' figures are kept). Always stops by itself: --startup-timeout bounds the stack's start,
--deadline the submits and the wait, --settle/--quiet the wait for late webhooks,
--max-memory-gib the stack's memory, and a stack that has not exited 15 s after SIGTERM is
killed. Sends traffic only to 127.0.0.1.

    make bench BENCH=load                      # or: .venv/bin/python bench/load.py --jobs 1000
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import heapq
import io
import itertools
import json
import math
import os
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import FrameType
from typing import Any

import requests
from bench_results import machine, merge_results  # bench/ is the script's own directory
from standardwebhooks import Webhook, WebhookVerificationError

from jobgate_cli.listen import ReceiverServer

RESULTS = Path(__file__).parent / "results" / "latest.json"
RESULTS_KEY = "load"
HOST = "127.0.0.1"
API_KEY = "jg_bench-load-key"
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
# docs/webhooks.md: without `callback.events`, every status and step change, not job.progress.
UNSUBSCRIBED_BY_DEFAULT = frozenset({"job.progress"})
MAX_WAIT_SECONDS = 20  # docs/api.md: Prefer: wait=N, N capped at 20
REQUEST_TIMEOUT = 30.0
LONG_POLL_TIMEOUT = MAX_WAIT_SECONDS + REQUEST_TIMEOUT
MAX_SUBMIT_ATTEMPTS = 10  # of one job, on 503/429 with Retry-After
MAX_RETRY_AFTER = 60.0
WINDOW = 100  # jobs in the first and last throughput windows, and the first memory checkpoint
SAMPLE_BODIES = 3
SAMPLE_BODY_CHARS = 300
TIMELINE_BUDGET_SECONDS = 180.0
LIST_BUDGET_SECONDS = 60.0
# Reading smaps_rollup of 80 worker processes takes ~0.3 s of CPU (kernel) time, more on a busy
# machine: sample the peak and the limit this seldom; the checkpoints are sampled when reached.
MEMORY_SAMPLE_SECONDS = 10.0

Json = dict[str, Any]


# ---------------------------------------------------------------- measurement helpers


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def parse_time(text: str) -> float:
    """An RFC 3339 time of the API as Unix seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def retry_after(response: requests.Response, default: float) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value)))
    except ValueError:
        return default


@dataclass
class Http:
    """Every answer the API gave, by phase and status; samples of the 5xx bodies and transport errors."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    server_error_samples: list[str] = field(default_factory=list)
    transport_errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    transport_error_samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, phase: str, response: requests.Response) -> None:
        with self.lock:
            self.statuses[(phase, response.status_code)] += 1
            if response.status_code >= 500 and len(self.server_error_samples) < SAMPLE_BODIES:
                body = response.text[:SAMPLE_BODY_CHARS].replace("\n", " ")
                self.server_error_samples.append(f"{phase} {response.status_code}: {body}")

    def failed(self, phase: str, error: Exception) -> None:
        with self.lock:
            self.transport_errors[(phase, type(error).__name__)] += 1
            if len(self.transport_error_samples) < SAMPLE_BODIES:
                self.transport_error_samples.append(f"{phase} {type(error).__name__}: {str(error)[:SAMPLE_BODY_CHARS]}")

    def server_errors(self) -> Counter[str]:
        with self.lock:
            return Counter({f"{phase} {status}": n for (phase, status), n in self.statuses.items() if status >= 500})

    def by_phase(self) -> dict[str, dict[str, int]]:
        with self.lock:
            table: dict[str, dict[str, int]] = {}
            for (phase, status), n in sorted(self.statuses.items()):
                table.setdefault(phase, {})[str(status)] = n
            for (phase, error), n in sorted(self.transport_errors.items()):
                table.setdefault(phase, {})[error] = n
            return table


def request(
    session: requests.Session, http: Http, phase: str, method: str, url: str, timeout: float, **kwargs: Any
) -> requests.Response | None:
    """One request; every answer counted under `phase`; None (counted too) when none came."""
    try:
        response = session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.RequestException as error:
        http.failed(phase, error)
        return None
    http.answered(phase, response)
    return response


def client_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: everything goes to 127.0.0.1
    session.headers["Authorization"] = f"Bearer {API_KEY}"
    return session


# ---------------------------------------------------------------- memory of the whole stack


@dataclass(frozen=True)
class Process:
    pid: int
    parent: int
    state: str  # R, S, D, Z (a zombie: ended, not yet reaped), ...
    started: int  # clock ticks after boot: with the pid, names the process even if the pid is reused


def processes() -> dict[int, Process]:
    """Every process on the machine, from /proc/*/stat."""
    found: dict[int, Process] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = stat[stat.rfind(")") + 2 :].split()
        found[int(entry)] = Process(int(entry), int(fields[1]), fields[0], int(fields[19]))
    return found


def _descendants(root: int, table: dict[int, Process] | None = None) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for process in (processes() if table is None else table).values():
        children.setdefault(process.parent, []).append(process.pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def memory_mib(root: int) -> dict[str, float]:
    """Summed RSS and PSS (smaps_rollup: shared pages counted once) of `root` and its descendants."""
    pids = _descendants(root)
    rss = pss = 0
    counted = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        counted += 1
        for line in text.splitlines():
            name, _, rest = line.partition(":")
            if name == "Rss":
                rss += int(rest.split()[0])
            elif name == "Pss":
                pss += int(rest.split()[0])
    return {"rss_mib": round(rss / 1024, 1), "pss_mib": round(pss / 1024, 1), "processes": counted}


class MemoryMonitor:
    """Samples the stack's memory every `interval` s: the peak, checkpoints, and a limit on the summed
    PSS that aborts the run (summed RSS counts a forked worker's shared pages once per worker)."""

    def __init__(
        self, root: int, limit_mib: float, abort: threading.Event, interval: float = MEMORY_SAMPLE_SECONDS
    ) -> None:
        self.root = root  # the stack's process
        self.limit_mib = limit_mib
        self.abort = abort
        self.interval = interval
        self.checkpoints: dict[str, dict[str, float]] = {}
        self.peak: dict[str, float] = {"rss_mib": 0.0, "pss_mib": 0.0}
        self.last: dict[str, float] = {"rss_mib": 0.0, "pss_mib": 0.0, "processes": 0}
        self.sampling_seconds = 0.0  # CPU time of the samples: smaps_rollup walks every page table
        self.over_limit: dict[str, float] | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._requested: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join(10)

    def checkpoint(self, label: str, terminal: int) -> None:
        """Sample now, on this thread (the first sample under `label` counts)."""
        with self._lock:
            if label in self.checkpoints:
                return
        sample = {**self._sample(), "terminal_jobs": terminal, "at": time.time()}
        with self._lock:
            self.checkpoints.setdefault(label, sample)

    def checkpoint_soon(self, label: str, terminal: int) -> None:
        """Sample on the monitor's thread, so that a webhook's or a poll's thread is not held."""
        with self._lock:
            self._requested.append((label, terminal))
        self._wake.set()

    def _sample(self) -> dict[str, float]:
        began = time.thread_time()
        sample = memory_mib(self.root)
        with self._lock:
            self.sampling_seconds += time.thread_time() - began
            self.last = sample
            for key in ("rss_mib", "pss_mib"):
                self.peak[key] = max(self.peak[key], sample[key])
        if sample["pss_mib"] > self.limit_mib and self.over_limit is None:
            self.over_limit = sample
            self.abort.set()
        return sample

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                requested, self._requested = self._requested, []
            if not requested:
                self._sample()
            for label, terminal in requested:
                self.checkpoint(label, terminal)


# ---------------------------------------------------------------- the stack, in a process of its own

# What the `jobgate` script runs (pyproject.toml: jobgate = "jobgate_cli.main:main"), started
# with this interpreter rather than found on PATH.
JOBGATE = "import sys; from jobgate_cli.main import main; sys.exit(main())"
TENANT = "bench"
STARTUP_SECONDS = 300.0  # DynamoDB Local's JVM, moto, the tables: ~10-60 s on a busy 2-core machine
STARTUP_ATTEMPTS = 3  # a port found free can be taken before the stack binds it
# console.py: "could not start the local stack: [Errno 98] Address already in use (is a port taken? ...)"
PORT_TAKEN = "Address already in use"
READY_POLL_SECONDS = 0.5
STOP_GOAL_SECONDS = 10.0  # the issue: SIGTERM stops the whole stack within 10 s, under load too
STOP_KILL_SECONDS = 15.0  # then the stack's process group, and every process of the stack, get SIGKILL
LEFTOVER_GRACE_SECONDS = 5.0
LOG_TAIL_LINES = 30
# console.py / stack.py: "12:34:56 <function name, padded to 28> <duration> ms  ok|error <type>[ (cold start)]"
INVOCATION_LINE = re.compile(r"^\d\d:\d\d:\d\d (\S+)\s+[\d.]+ ms  (?:ok|error (\S+))")
BANNER_END = "Ctrl-C stops."
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


class StackDidNotStart(Exception):
    pass


def _libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def become_subreaper() -> bool:
    """Linux: a process of the stack whose parent ends is re-parented to this process, not to init,
    so that a process outliving the stack is still found (and can be ended) here."""
    libc = _libc()
    return libc is not None and libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 just now."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((HOST, 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def log_tail(path: Path, lines: int = LOG_TAIL_LINES, since: int = 0) -> str:
    try:
        with path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(since, size - 64 * 1024))
            text = log.read().decode(errors="replace")
    except OSError as error:
        return f"(the log could not be read: {error})"
    return "\n".join(text.splitlines()[-lines:])


class StoppableThread(threading.Thread):
    """A daemon thread that runs until `stop()`: `run` waits on `self._stopping` between rounds."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        if self.ident is not None:
            self.join(5)


class LogFollower(StoppableThread):
    """--verbose: copies the stack's log to stderr as it grows."""

    def __init__(self, path: Path) -> None:
        super().__init__("bench-log")
        self.path = path

    def run(self) -> None:
        with self.path.open("rb") as log:
            while True:
                stopping = self._stopping.wait(0.5)
                chunk = log.read()
                if chunk:
                    sys.stderr.write(chunk.decode(errors="replace"))
                    sys.stderr.flush()
                if stopping:
                    return


class StackProcess:
    """`jobgate local` in a child process, in a session of its own (Ctrl-C in the terminal is for
    this script, which stops the stack); its stdout and stderr go to a file, never to a pipe that
    could fill. `stop()` sends SIGTERM, as a developer's Ctrl-C or a service manager would."""

    def __init__(self, log_path: Path, tenant: str, time_scale: float, template: Path | None) -> None:
        self.log_path = log_path
        self.tenant = tenant  # JOBGATE_TENANTS
        self.time_scale = time_scale
        self.template = template.resolve() if template is not None else None
        self.process: subprocess.Popen[bytes] | None = None
        self.api_url = ""
        self.command: list[str] = []
        self.attempts = 0
        self.start_seconds: float | None = None  # spawn → the API answered, of the attempt that came up
        self._log_offset = 0  # where the current attempt's output begins in the log
        self.subreaper = False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float) -> None:
        """Spawn the stack and wait until `GET /jobs` answers 200 with the bench tenant's key."""
        self.subreaper = become_subreaper()
        deadline = time.monotonic() + timeout
        while True:
            self.attempts += 1
            began = time.monotonic()
            self._spawn()
            error = self._wait_until_ready(deadline, timeout)
            if not error:
                self.start_seconds = time.monotonic() - began
                return
            retry = (
                self.process is not None
                and self.process.poll() is not None
                and PORT_TAKEN in log_tail(self.log_path, since=self._log_offset)
                and self.attempts < STARTUP_ATTEMPTS
                and time.monotonic() < deadline
            )
            if not retry:
                raise StackDidNotStart(
                    f"{error}\n`jobgate local` was: {' '.join(self.command)}\n"
                    f"the last lines of its log, {self.log_path}:\n{log_tail(self.log_path, since=self._log_offset)}"
                )

    def _spawn(self) -> None:
        port, dynamodb_port = _free_ports(2)
        self.api_url = f"http://{HOST}:{port}"
        self.command = [
            sys.executable, "-c", JOBGATE, "local",
            "--port", str(port), "--aws-port", "0", "--dynamodb-port", str(dynamodb_port),
            "--time-scale", str(self.time_scale),
            *(["--template", str(self.template)] if self.template is not None else []),
        ]  # fmt: skip
        environment = {**os.environ, "JOBGATE_TENANTS": self.tenant, "PYTHONUNBUFFERED": "1"}
        libc = _libc()

        def die_with_this_process() -> None:
            # Linux: if this script is killed (SIGKILL), the kernel sends the stack SIGTERM.
            if libc is not None:
                libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

        with self.log_path.open("ab") as log:
            self._log_offset = log.seek(0, os.SEEK_END)
            log.write(f"==> bench load, attempt {self.attempts}: {' '.join(self.command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=True,
                preexec_fn=die_with_this_process,  # no thread of this script runs yet
            )

    def _wait_until_ready(self, deadline: float, timeout: float) -> str:
        """'' once the API answers 200; else what went wrong."""
        assert self.process is not None
        session = client_session()
        last = "no answer"
        try:
            while time.monotonic() < deadline:
                code = self.process.poll()
                if code is not None:
                    return f"`jobgate local` exited with code {code} before its API answered"
                try:
                    response = session.get(f"{self.api_url}/jobs", params={"limit": 1}, timeout=10)
                except requests.RequestException as error:
                    last = type(error).__name__
                else:
                    if response.status_code == 200 and self.process.poll() is None:
                        return ""
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                time.sleep(READY_POLL_SECONDS)
            return f"the stack's API ({self.api_url}/jobs) did not answer 200 within {timeout:.0f} s (last: {last})"
        finally:
            session.close()

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def _running(self, tree: dict[int, Process] | None = None) -> dict[int, Process]:
        """The stack's processes still running: those of `tree` (the same pid *and* start time), and
        every process below this one: the stack's process and its descendants, or, once it is gone,
        its orphans, re-parented here (the subreaper). Zombies (ended, not yet reaped) are not."""
        now = processes()
        found = {pid: now[pid] for pid in _descendants(os.getpid(), now) if pid != os.getpid()}
        for pid, p in (tree or {}).items():
            if pid in now and now[pid].started == p.started:
                found[pid] = now[pid]
        return {pid: p for pid, p in found.items() if p.state not in ("Z", "X")}

    def stop(self) -> Json:
        """SIGTERM; how long the stack's process took to exit; which of its processes outlived it."""
        process = self.process
        if process is None:
            return {"signal": None, "note": "the stack was never started"}
        tree = self._running()
        result: Json = {
            "signal": "SIGTERM",
            "processes_at_stop": len(tree),
            "stop_seconds": None,
            "killed": False,
            "already_exited": process.poll() is not None,
        }
        if process.poll() is None:
            began = time.monotonic()
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_KILL_SECONDS)
                result["stop_seconds"] = round(time.monotonic() - began, 2)
            except subprocess.TimeoutExpired:
                result["killed"] = True
                print(
                    f"bench load: the stack had not exited {STOP_KILL_SECONDS:.0f} s after SIGTERM: "
                    "killing its process group and every process of it",
                    file=sys.stderr,
                    flush=True,
                )
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                _kill(self._running(tree))  # its children are in sessions of their own
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    result["note"] = "not reaped 10 s after SIGKILL"
        result["exit_code"] = process.poll()
        if process.poll() is not None:
            _reap_orphans()
        left = self._running(tree)
        result["left_at_exit"] = len(left)
        grace = time.monotonic() + LEFTOVER_GRACE_SECONDS
        while left and time.monotonic() < grace and process.poll() is not None:
            time.sleep(0.2)
            _reap_orphans()
            left = self._running(tree)
        result["left_after_grace"] = len(left)
        result["grace_seconds"] = LEFTOVER_GRACE_SECONDS
        result["left_sample"] = [f"{pid} {_command_line(pid)}" for pid in sorted(left)[:SAMPLE_BODIES]]
        if left:
            # Only the stack's own processes: this script's descendants, or the same pid and start time.
            _kill(left)
            time.sleep(0.5)
            _reap_orphans()
            result["left_killed"] = len(left)
        return result


def stop_summary(stopped: Json) -> str:
    if stopped.get("signal") is None:
        return str(stopped.get("note", "nothing to stop"))
    if stopped.get("already_exited"):
        how = f"it had exited (code {stopped.get('exit_code')})"
    elif stopped.get("killed"):
        how = f"SIGTERM, then SIGKILL after {STOP_KILL_SECONDS:.0f} s"
    else:
        how = f"SIGTERM: exited in {stopped.get('stop_seconds')} s (code {stopped.get('exit_code')})"
    left = stopped.get("left_at_exit", 0)
    return f"{how}; {left} of its {stopped.get('processes_at_stop')} processes left" + (
        f", killed: {stopped.get('left_sample')}" if left else ""
    )


def _kill(running: dict[int, Process]) -> None:
    now = processes()
    for pid, p in running.items():
        if pid != os.getpid() and pid in now and now[pid].started == p.started:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _reap_orphans() -> None:
    """Reap the stack's processes re-parented here that have ended (once the stack's own process
    has been waited for: else this could take its exit status from subprocess)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:160]


def summarize_log(path: Path) -> Json:
    """The stack's output: invocations and their errors, tracebacks, and any other line after the banner."""
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return {"path": str(path), "unreadable": str(error)}
    invocations = 0
    errors: Counter[str] = Counter()
    tracebacks = 0
    other: list[str] = []
    other_count = 0
    after_banner = False
    for line in text.splitlines():
        if line.startswith("==> bench load"):
            after_banner = False
            continue
        if not after_banner:
            after_banner = line.strip().endswith(BANNER_END)
            if "Traceback (most recent call last)" in line:
                tracebacks += 1
            continue
        match = INVOCATION_LINE.match(line)
        if match:
            invocations += 1
            if match[2]:
                errors[f"{match[1]} {match[2]}"] += 1
            continue
        if not line.strip() or line.strip() == "Stopping the local stack...":
            continue
        if "Traceback (most recent call last)" in line:
            tracebacks += 1
        other_count += 1
        if len(other) < 5 and line not in other:
            other.append(line[:SAMPLE_BODY_CHARS])
    return {
        "path": str(path),
        "bytes": len(text.encode()),
        "invocations": invocations,
        "invocation_errors": sum(errors.values()),
        "invocation_errors_by_function": dict(errors.most_common()),
        "tracebacks": tracebacks,
        "other_lines": other_count,
        "other_lines_sample": other,
    }


# ---------------------------------------------------------------- the webhook receiver


@dataclass
class Delivery:
    webhook_id: str
    job_id: str
    sequence: int
    type: str
    event_time: float  # the event's `timestamp`
    received_at: float  # the receiver's clock, first arrival


class Receiver:
    """Verifies (standardwebhooks), de-duplicates by webhook-id, records the first arrival of each."""

    def __init__(self, secret: str, on_terminal: Callable[[str, Json], None]) -> None:
        self._webhook = Webhook(secret)
        self._on_terminal = on_terminal
        self._lock = threading.Lock()
        self.first: dict[str, Delivery] = {}
        self.by_event: dict[tuple[str, int], Delivery] = {}
        self.arrivals: Counter[str] = Counter()
        self.rejected = 0
        self.rejected_samples: list[str] = []
        self._server = ReceiverServer((HOST, 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_port}/hooks"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        received_at = time.time()
        try:
            event = self._webhook.verify(body, headers)
            delivery = Delivery(
                webhook_id=headers["webhook-id"],
                job_id=event["data"]["job"]["id"],
                sequence=int(event["sequence"]),
                type=str(event["type"]),
                event_time=parse_time(event["timestamp"]),
                received_at=received_at,
            )
        except (WebhookVerificationError, ValueError, KeyError, TypeError) as error:
            with self._lock:
                self.rejected += 1
                if len(self.rejected_samples) < SAMPLE_BODIES:
                    self.rejected_samples.append(f"{type(error).__name__}: {error}; {body[:120]!r}")
            return 401
        with self._lock:
            self.arrivals[delivery.webhook_id] += 1
            if delivery.webhook_id in self.first:
                return 200  # a duplicate: still a 2xx, or the sender would retry it
            self.first[delivery.webhook_id] = delivery
            self.by_event.setdefault((delivery.job_id, delivery.sequence), delivery)
        if event["data"]["job"].get("status") in TERMINAL:
            self._on_terminal(delivery.job_id, event["data"]["job"])
        return 204

    def duplicates(self) -> int:
        """Arrivals beyond the first, over every webhook-id."""
        with self._lock:
            return sum(n - 1 for n in self.arrivals.values())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.receive(body, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
                return

        return Handler


# ---------------------------------------------------------------- the jobs and their polling


@dataclass
class Job:
    id: str
    submitted_at: float  # start of the accepted POST, Unix seconds
    etag: str | None = None
    resource: Json | None = None  # the latest body seen (terminal when done)
    terminal_seen_at: float | None = None  # when the client first learnt it was terminal
    failed_polls: int = 0


class Jobs:
    """Accepted jobs and when each is due for its next poll (a heap with lazy deletion)."""

    def __init__(self, clients: int, checkpoint: Callable[[int], None]) -> None:
        self.clients = clients
        self._checkpoint = checkpoint
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, str]] = []
        self._token: dict[str, int] = {}
        self._counter = itertools.count()
        self.all: dict[str, Job] = {}
        self._waiting: set[str] = set()  # not terminal yet
        self._in_flight: set[str] = set()
        self.terminal_order: list[str] = []
        self.submitting = 0

    def added(self, job: Job, due: float) -> None:
        with self._cond:
            self.all[job.id] = job
            self._waiting.add(job.id)
            self._schedule(job.id, due)

    def _schedule(self, job_id: str, due: float) -> None:
        token = next(self._counter)
        self._token[job_id] = token
        heapq.heappush(self._heap, (due, token, job_id))
        self._cond.notify()

    def terminal(self, job_id: str, resource: Json) -> None:
        """Seen terminal (by a poll or a webhook); counts towards the memory checkpoints."""
        with self._cond:
            job = self.all.get(job_id)
            if job is None or job.terminal_seen_at is not None:
                return
            job.terminal_seen_at = time.time()
            if job.resource is None or job.resource.get("status") not in TERMINAL:
                job.resource = resource
            self._waiting.discard(job_id)
            self.terminal_order.append(job_id)
            count = len(self.terminal_order)
            self._cond.notify_all()
        self._checkpoint(count)

    def submitter_done(self) -> None:
        with self._cond:
            self.submitting -= 1
            self._cond.notify_all()

    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def take(self, stop: Callable[[], bool]) -> tuple[Job, bool] | None:
        """The next job due and whether to long-poll it; None when none is left or `stop()`."""
        with self._cond:
            while not stop():
                if not self._waiting and self.submitting == 0:
                    return None
                now = time.monotonic()
                while self._heap:
                    _, token, job_id = self._heap[0]
                    if self._token.get(job_id) != token or job_id not in self._waiting:
                        heapq.heappop(self._heap)
                        continue
                    break
                if self._heap and self._heap[0][0] <= now:
                    _, _, job_id = heapq.heappop(self._heap)
                    self._token.pop(job_id, None)
                    self._in_flight.add(job_id)
                    # Few jobs left: one client per job can hold a long-poll on it.
                    long_poll = self.submitting == 0 and len(self._waiting) <= self.clients
                    return self.all[job_id], long_poll
                pause = (self._heap[0][0] - now) if self._heap else 0.5
                self._cond.wait(min(0.5, max(0.01, pause)))
            return None

    def polled(self, job: Job, due: float | None) -> None:
        with self._cond:
            self._in_flight.discard(job.id)
            if due is not None and job.id in self._waiting:
                self._schedule(job.id, due)


@dataclass
class Settings:
    api_url: str
    callback_url: str
    jobs: int
    clients: int
    steps: int
    step_seconds: int
    deadline: float  # time.monotonic() by which submits and waiting stop
    rate: float = 0.0  # submits per second, all clients together; 0: each client back to back
    submits_from: float = 0.0  # time.monotonic() of the first paced submit


class Client(threading.Thread):
    """Submits its share (back to back, or paced by --rate), then polls jobs (any client's) until none is left."""

    def __init__(
        self, index: int, share: int, settings: Settings, jobs: Jobs, http: Http, stop: Callable[[], bool]
    ) -> None:
        super().__init__(name=f"bench-client-{index}", daemon=True)
        self.index = index
        self.share = share
        self.settings = settings
        self.jobs = jobs
        self.http = http
        self.stop = stop
        self.session = client_session()
        self.submit_latencies: list[float] = []
        self.first_submit_at: float | None = None
        self.not_accepted: Counter[str] = Counter()

    def run(self) -> None:
        try:
            for n in range(self.share):
                if self.stop():
                    self.not_accepted["not sent (deadline or memory limit)"] += self.share - n
                    break
                self.wait_for_turn(n)
                self.submit(n)
        finally:
            self.jobs.submitter_done()
        self.poll_until_done()
        self.session.close()

    def wait_for_turn(self, n: int) -> None:
        """With --rate, the clients take turns: submit k of the run (k = n * clients + index) at k / rate."""
        s = self.settings
        if s.rate > 0:
            due = s.submits_from + (n * s.clients + self.index) / s.rate
            time.sleep(max(0.0, due - time.monotonic()))

    def submit(self, n: int) -> None:
        s = self.settings
        body = {
            "type": "demo",
            "input": {"steps": s.steps, "stepSeconds": s.step_seconds},
            "callback": {"url": s.callback_url},
        }
        headers = {"Idempotency-Key": f"bench-{self.index}-{n}-{secrets.token_hex(4)}"}
        for _ in range(MAX_SUBMIT_ATTEMPTS):
            started_wall, started = time.time(), time.monotonic()
            if self.first_submit_at is None:
                self.first_submit_at = started_wall
            response = request(
                self.session,
                self.http,
                "submit",
                "POST",
                f"{s.api_url}/jobs",
                REQUEST_TIMEOUT,
                json=body,
                headers=headers,
            )
            self.submit_latencies.append(time.monotonic() - started)
            if response is None:
                self.not_accepted["no answer"] += 1
                return
            if response.status_code == 202:
                job = response.json()
                self.jobs.added(
                    Job(job["id"], started_wall, response.headers.get("ETag"), job),
                    time.monotonic() + retry_after(response, 1.0),
                )
                return
            if response.status_code in (429, 503) and "Retry-After" in response.headers:
                pause = retry_after(response, 1.0)
                if time.monotonic() + pause > s.deadline:
                    break
                time.sleep(pause)
                continue
            self.not_accepted[f"HTTP {response.status_code}"] += 1
            return
        self.not_accepted["still refused after Retry-After"] += 1

    def poll_until_done(self) -> None:
        s = self.settings
        while (taken := self.jobs.take(self.stop)) is not None:
            job, long_poll = taken
            headers = {"If-None-Match": job.etag} if job.etag else {}
            if long_poll and job.etag:
                headers["Prefer"] = f"wait={MAX_WAIT_SECONDS}"
            timeout = LONG_POLL_TIMEOUT if "Prefer" in headers else REQUEST_TIMEOUT
            response = request(
                self.session, self.http, "poll", "GET", f"{s.api_url}/jobs/{job.id}", timeout, headers=headers
            )
            self.jobs.polled(job, self.after_poll(job, response, long_poll))

    def after_poll(self, job: Job, response: requests.Response | None, long_poll: bool) -> float | None:
        """When to poll `job` next (None: it is terminal)."""
        now = time.monotonic()
        if response is None or response.status_code >= 500 or response.status_code == 429:
            job.failed_polls += 1
            backoff = min(10.0, 0.5 * 2 ** min(job.failed_polls, 5))
            return now + (retry_after(response, backoff) if response is not None else backoff)
        job.failed_polls = 0
        if response.status_code == 200:
            job.etag = response.headers.get("ETag")
            job.resource = response.json()
            if job.resource["status"] in TERMINAL:
                self.jobs.terminal(job.id, job.resource)
                return None
        elif response.status_code != 304:
            # 404/410 and the like: the job is gone; nothing more to learn by polling it.
            job.resource = {"status": f"HTTP {response.status_code}", "error": {"detail": response.text[:200]}}
            self.jobs.terminal(job.id, job.resource)
            return None
        return now if long_poll else now + retry_after(response, 1.0)


# ---------------------------------------------------------------- after the run: timelines and webhooks


def fetch_timelines(
    api_url: str, job_ids: list[str], clients: int, http: Http, budget: float
) -> dict[str, list[Json] | None]:
    """Every job's `GET /jobs/{id}/events` timeline (None where it could not be read in time)."""
    deadline = time.monotonic() + budget
    timelines: dict[str, list[Json] | None] = dict.fromkeys(job_ids)
    todo = iter(job_ids)
    lock = threading.Lock()

    def work() -> None:
        session = client_session()
        while time.monotonic() < deadline:
            with lock:
                job_id = next(todo, None)
            if job_id is None:
                break
            events: list[Json] = []
            after = 0
            for _ in range(100):  # pages of 100 events: far more than a 3-step job has
                response = request(
                    session, http, "events", "GET", f"{api_url}/jobs/{job_id}/events", REQUEST_TIMEOUT,
                    params={"after": after, "limit": 100},
                )  # fmt: skip
                if response is None or response.status_code != 200:
                    events = []
                    break
                page = response.json()
                events.extend(page["items"])
                if not page.get("next"):
                    timelines[job_id] = events
                    break
                after = int(page["next"])
        session.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT)
    return timelines


def listed_jobs(api_url: str, http: Http, budget: float, max_pages: int) -> tuple[set[str], bool]:
    """Every job `GET /jobs` lists for the tenant, and whether the listing got to its end in time."""
    deadline = time.monotonic() + budget
    session = client_session()
    ids: set[str] = set()
    cursor: str | None = None
    try:
        for _ in range(max_pages):
            if time.monotonic() >= deadline:
                break
            params: dict[str, str | int] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            response = request(session, http, "list", "GET", f"{api_url}/jobs", REQUEST_TIMEOUT, params=params)
            if response is None or response.status_code != 200:
                break
            page = response.json()
            ids.update(item["id"] for item in page["items"])
            cursor = page.get("next")
            if not cursor:
                return ids, True
        return ids, False
    finally:
        session.close()


def expected_webhooks(timelines: dict[str, list[Json] | None]) -> set[tuple[str, int]]:
    return {
        (job_id, int(event["sequence"]))
        for job_id, events in timelines.items()
        for event in events or []
        if event["type"] not in UNSUBSCRIBED_BY_DEFAULT
    }


# ---------------------------------------------------------------- the run


class ExitWatch(StoppableThread):
    """Ends the run (sets `abort`) if the stack's process exits before it is told to stop."""

    def __init__(self, stack: StackProcess, abort: threading.Event) -> None:
        super().__init__("bench-exit-watch")
        self.stack, self.abort = stack, abort
        self.exit_code: int | None = None

    def run(self) -> None:
        while not self._stopping.wait(1.0):
            code = self.stack.exit_code()
            if code is not None:
                self.exit_code = code
                print(f"bench load: the local stack exited (code {code}) during the run", file=sys.stderr, flush=True)
                self.abort.set()
                return


def run(args: argparse.Namespace, log_path: Path) -> Json:
    """Start the stack, measure, stop it; the figures, or StackDidNotStart."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    stack = StackProcess(log_path, f"{TENANT}:{API_KEY}:{secret}", args.time_scale, args.template)
    abort = threading.Event()
    watch = ExitWatch(stack, abort)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.touch()
    follower = LogFollower(log_path) if args.verbose else None
    times_before = os.times()
    stopped: Json = {}
    try:
        # Before any thread of this script: the stack is started with a preexec_fn.
        stack.start(args.startup_timeout)
    except BaseException as error:
        stopped = stack.stop()
        if isinstance(error, StackDidNotStart):
            raise StackDidNotStart(f"{error}\nthen: {stop_summary(stopped)}") from None
        raise
    try:
        if follower is not None:
            follower.start()
        watch.start()
        result = measure(args, stack, secret, abort)
    finally:
        watch.stop()
        stopped = stack.stop()
        if follower is not None:
            follower.stop()
        print(f"bench load: stopped the stack: {stop_summary(stopped)}", file=sys.stderr, flush=True)
    times_after = os.times()
    result["stack"] = {
        "command": stack.command,
        "api_url": stack.api_url,
        "startup_attempts": stack.attempts,
        "subreaper": stack.subreaper,
        "exited_during_run": watch.exit_code,
    }
    result["stack_stop"] = stopped
    result["stack_log"] = summarize_log(log_path)
    result["cpu_seconds"] = {
        # Reaped processes only: the stack's process, and what it (and its zygote) waited for.
        "stack": round(
            times_after.children_user + times_after.children_system
            - times_before.children_user - times_before.children_system,
            1,
        ),
        "generator": round(
            times_after.user + times_after.system - times_before.user - times_before.system, 1
        ),
    }  # fmt: skip
    result["generator_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def measure(args: argparse.Namespace, stack: StackProcess, secret: str, abort: threading.Event) -> Json:
    memory = MemoryMonitor(stack.pid, args.max_memory_gib * 1024, abort)
    receiver: Receiver | None = None
    stack_started_seconds = stack.start_seconds or 0.0
    try:
        jobs_holder: list[Jobs] = []

        def on_terminal_webhook(job_id: str, resource: Json) -> None:
            # A terminal webhook (verified, so as good as a GET) ends the client's wait for the job.
            jobs_holder[0].terminal(job_id, resource)

        receiver = Receiver(secret, on_terminal_webhook)
        receiver.start()
        memory.start()
        memory.checkpoint("start", 0)

        def checkpoint(terminal: int) -> None:
            if terminal == WINDOW:
                memory.checkpoint_soon(f"after {WINDOW}", terminal)
            if terminal == args.jobs:
                memory.checkpoint_soon(f"after {args.jobs}", terminal)

        jobs = Jobs(args.clients, checkpoint)
        jobs_holder.append(jobs)
        http = Http()
        deadline = time.monotonic() + args.deadline
        settings = Settings(
            stack.api_url,
            receiver.url,
            args.jobs,
            args.clients,
            args.steps,
            args.step_seconds,
            deadline,
            rate=args.rate,
            submits_from=time.monotonic(),
        )

        def stop() -> bool:
            return abort.is_set() or time.monotonic() >= deadline

        shares = [args.jobs // args.clients + (1 if i < args.jobs % args.clients else 0) for i in range(args.clients)]
        clients = [Client(i, share, settings, jobs, http, stop) for i, share in enumerate(shares)]
        jobs.submitting = len(clients)
        progress = Progress(jobs, http, receiver, memory, args.jobs) if args.progress else None
        if progress:
            progress.start()
        for client in clients:
            client.start()
        for client in clients:
            client.join(max(0.0, deadline - time.monotonic()) + LONG_POLL_TIMEOUT)
        waited_until = time.monotonic()
        if progress:
            progress.stop()
        timed_out = waited_until >= deadline and jobs.waiting() > 0
        terminal_count = len(jobs.terminal_order)
        if terminal_count >= args.jobs:
            memory.checkpoint(f"after {args.jobs}", terminal_count)  # if the monitor has not yet
        else:
            memory.checkpoint(f"at the end ({terminal_count} terminal)", terminal_count)

        timelines = fetch_timelines(stack.api_url, list(jobs.all), args.clients, http, TIMELINE_BUDGET_SECONDS)
        # A submit answered 5xx or not at all must have left nothing half-done: no job.
        listed, listing_complete = listed_jobs(stack.api_url, http, LIST_BUDGET_SECONDS, args.jobs // 100 + 10)
        unacknowledged = sorted(listed - jobs.all.keys())
        expected = expected_webhooks(timelines)
        settled = settle(receiver, expected, args.settle, args.quiet)
        memory.stop()
        result = figures(
            args, stack_started_seconds, clients, jobs, http, receiver, memory, timelines, expected, timed_out
        )
        result["settle"] = settled
        result["jobs_created_without_202"] = len(unacknowledged) if listing_complete else None
        result["jobs_created_without_202_sample"] = unacknowledged[:SAMPLE_BODIES]
        result["jobs_listed"] = len(listed)
        return result
    finally:
        memory.stop()
        if receiver is not None:
            receiver.stop()


def settle(receiver: Receiver, expected: set[tuple[str, int]], cap: float, quiet: float) -> Json:
    """Wait for the webhooks still missing: until all are in, or none has arrived for `quiet` s
    (the first retry comes 5 s after a failed attempt, less with a time scale), or `cap` s passed."""
    began = time.monotonic()
    last_count, last_change = len(receiver.first), began
    while not expected <= receiver.by_event.keys():
        now = time.monotonic()
        if len(receiver.first) != last_count:
            last_count, last_change = len(receiver.first), now
        if now - began >= cap or now - last_change >= quiet:
            break
        time.sleep(0.25)
    missing = len(expected - receiver.by_event.keys())
    return {
        "waited_seconds": round(time.monotonic() - began, 1),
        "still_missing": missing,
        "cap_reached": (time.monotonic() - began) >= cap,
    }


class Progress(StoppableThread):
    """A line on stderr every few seconds while the run goes on (--progress)."""

    def __init__(self, jobs: Jobs, http: Http, receiver: Receiver, memory: MemoryMonitor, total: int) -> None:
        super().__init__("bench-progress")
        self.jobs, self.http, self.receiver, self.memory, self.total = jobs, http, receiver, memory, total
        self.began = time.monotonic()

    def run(self) -> None:
        while not self._stopping.wait(5):
            sample = self.memory.last
            print(
                f"[{time.monotonic() - self.began:6.0f} s] accepted {len(self.jobs.all)}/{self.total}"
                f"  terminal {len(self.jobs.terminal_order)}  webhooks {len(self.receiver.first)}"
                f"  5xx {sum(self.http.server_errors().values())}"
                f"  RSS {sample['rss_mib']:.0f} MiB  PSS {sample['pss_mib']:.0f} MiB",
                file=sys.stderr,
                flush=True,
            )


def window_rates(terminal_times: list[float], first_submit: float) -> tuple[float | None, float | None]:
    """Jobs/s of the first WINDOW terminal jobs (first submit → WINDOW-th terminal time) and of the
    last WINDOW ((n-WINDOW)-th → n-th terminal time), terminal times sorted."""
    if len(terminal_times) <= WINDOW:
        return None, None
    t = sorted(terminal_times)
    first_span = t[WINDOW - 1] - first_submit
    last_span = t[-1] - t[-1 - WINDOW]
    first = WINDOW / first_span if first_span > 0 else None
    last = WINDOW / last_span if last_span > 0 else None
    return first, last


def figures(
    args: argparse.Namespace,
    stack_started_seconds: float,
    clients: list[Client],
    jobs: Jobs,
    http: Http,
    receiver: Receiver,
    memory: MemoryMonitor,
    timelines: dict[str, list[Json] | None],
    expected: set[tuple[str, int]],
    timed_out: bool,
) -> Json:
    submit_times = [c.first_submit_at for c in clients if c.first_submit_at is not None]
    first_submit = min(submit_times) if submit_times else time.time()
    not_accepted: Counter[str] = sum((c.not_accepted for c in clients), Counter())
    terminal = [jobs.all[i] for i in jobs.terminal_order]
    ended = [parse_time(j.resource["endedAt"]) for j in terminal if j.resource and j.resource.get("endedAt")]
    last_terminal = max(ended) if ended else None
    wall = (last_terminal - first_submit) if last_terminal else None
    first_rate, last_rate = window_rates(ended, first_submit)
    outcomes = Counter(str((j.resource or {}).get("status")) for j in terminal)
    failed = [j for j in terminal if (j.resource or {}).get("status") != "succeeded"]
    error_kinds = Counter(
        str(((j.resource or {}).get("error") or {}).get("type") or (j.resource or {}).get("status")) for j in failed
    )
    failed_samples = [
        {"id": j.id, "status": (j.resource or {}).get("status"), "error": (j.resource or {}).get("error")}
        for j in failed[:SAMPLE_BODIES]
    ]
    with_receiver = dict(receiver.by_event)
    latencies = [
        with_receiver[key].received_at - with_receiver[key].event_time for key in expected if key in with_receiver
    ]
    lost = sorted(expected - with_receiver.keys())
    last_arrival = max((d.received_at for d in with_receiver.values()), default=None)
    known_events = {(j, int(e["sequence"])) for j, events in timelines.items() for e in events or []}
    unexpected = [key for key in with_receiver if key not in known_events and timelines.get(key[0]) is not None]
    end_to_end = [
        parse_time(j.resource["endedAt"]) - parse_time(j.resource["createdAt"])
        for j in terminal
        if j.resource and j.resource.get("endedAt") and j.resource.get("createdAt")
    ]
    submit_latencies = [x for c in clients for x in c.submit_latencies]
    server_errors = http.server_errors()
    checkpoints = memory.checkpoints
    after_window = checkpoints.get(f"after {WINDOW}")
    after_all = checkpoints.get(f"after {args.jobs}")

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    def growth(key: str) -> float | None:
        if not after_window or not after_all or not after_window[key]:
            return None
        return round(after_all[key] / after_window[key], 3)

    return {
        "settings": {
            "jobs": args.jobs,
            "clients": args.clients,
            "submits_per_second": args.rate or "back to back",
            "job": {"type": "demo", "input": {"steps": args.steps, "stepSeconds": args.step_seconds}},
            "time_scale": args.time_scale,
            "deadline_seconds": args.deadline,
            "settle_seconds": args.settle,
            "quiet_seconds": args.quiet,
            "template": str(args.template) if args.template else "the local stack's default (template.yaml)",
        },
        "stack_start_seconds": round(stack_started_seconds, 2),
        "accepted_jobs": len(jobs.all),
        "not_accepted": dict(not_accepted),
        "terminal_jobs": len(terminal),
        "not_terminal_at_deadline": len(jobs.all) - len(terminal),
        "timed_out": timed_out,
        "aborted_over_memory_limit": memory.over_limit,
        "wall_seconds_first_submit_to_last_terminal": None if wall is None else round(wall, 2),
        "completed_jobs_per_second": None if not wall else round(len(ended) / wall, 3),
        "job_outcomes": dict(outcomes),
        "failed_jobs": len(failed) + sum(not_accepted.values()),
        "failed_terminal_jobs": len(failed),
        "failed_error_types": dict(error_kinds),
        "failed_samples": failed_samples,
        "submit_latency_ms": {
            "p50": ms(percentile(submit_latencies, 50)),
            "p99": ms(percentile(submit_latencies, 99)),
            "max": ms(max(submit_latencies, default=None)),
            "requests": len(submit_latencies),
        },
        "job_created_to_ended_ms": {"p50": ms(percentile(end_to_end, 50)), "p99": ms(percentile(end_to_end, 99))},
        "webhook_latency_ms": {
            "p50": ms(percentile(latencies, 50)),
            "p99": ms(percentile(latencies, 99)),
            "max": ms(max(latencies, default=None)),
            "webhooks": len(latencies),
        },
        "server_errors": sum(server_errors.values()),
        "server_errors_by_status": dict(server_errors),
        "server_error_samples": http.server_error_samples,
        "transport_errors": sum(http.transport_errors.values()),
        "transport_error_samples": http.transport_error_samples,
        "answers_by_phase": http.by_phase(),
        "webhooks_expected": len(expected),
        "webhooks_received": len(with_receiver),
        "webhooks_lost": len(lost),
        "webhooks_lost_sample": [f"{job_id} #{seq}" for job_id, seq in lost[:SAMPLE_BODIES]],
        "webhooks_duplicated": receiver.duplicates(),
        "webhooks_last_arrival_after_last_terminal_seconds": (
            None if last_arrival is None or last_terminal is None else round(last_arrival - last_terminal, 1)
        ),
        "webhooks_rejected": receiver.rejected,
        "webhooks_rejected_samples": receiver.rejected_samples,
        "webhooks_not_in_timeline": len(unexpected),
        "timelines_unread": sum(1 for t in timelines.values() if t is None),
        "memory": {
            "checkpoints": {
                label: {k: v for k, v in sample.items() if k != "at"} for label, sample in checkpoints.items()
            },
            "peak": memory.peak,
            "sampling_seconds": round(memory.sampling_seconds, 1),
            "rss_ratio_after_all_to_after_100": growth("rss_mib"),
            "pss_ratio_after_all_to_after_100": growth("pss_mib"),
        },
        "scaling": {
            "definition": (
                f"jobs/s of the last {WINDOW} jobs to become terminal ({WINDOW} / (t[n] - t[n-{WINDOW}])) "
                f"÷ jobs/s of the first {WINDOW} ({WINDOW} / (t[{WINDOW}] - first submit)), "
                "t = the jobs' endedAt sorted"
            ),
            "first_window_jobs_per_second": None if first_rate is None else round(first_rate, 3),
            "last_window_jobs_per_second": None if last_rate is None else round(last_rate, 3),
            "ratio": None if not first_rate or last_rate is None else round(last_rate / first_rate, 3),
        },
    }


# ---------------------------------------------------------------- output


def _fmt(value: Any, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def table(r: Json) -> str:
    s = r["settings"]
    mem = r["memory"]
    cps = mem["checkpoints"]
    out = io.StringIO()
    job_input = s["job"]["input"]
    out.write(
        f"load: {s['jobs']:,} demo jobs ({job_input['steps']} steps, stepSeconds {job_input['stepSeconds']}), "
        f"{s['clients']} clients, time scale {s['time_scale']}, each with a webhook callback\n"
    )
    pace = s.get("submits_per_second", "back to back")
    out.write(f"submits: {pace if isinstance(pace, str) else f'{pace:g} per second, all clients together'}\n")
    rows: list[tuple[str, str, str]] = []
    wall = r["wall_seconds_first_submit_to_last_terminal"]
    rows.append(
        (
            "completed jobs/s (terminal jobs ÷ first submit → last terminal)",
            f"{_fmt(r['completed_jobs_per_second'], ',.2f')}  ({r['terminal_jobs']:,} in {_fmt(wall, ',.1f')} s)",
            "≥ 20",
        )
    )
    sub, hook = r["submit_latency_ms"], r["webhook_latency_ms"]
    rows.append(("submit latency p50 / p99 ms", f"{_fmt(sub['p50'])} / {_fmt(sub['p99'])}", ""))
    rows.append(
        ("status change → webhook received p50 / p99 ms", f"{_fmt(hook['p50'])} / {_fmt(hook['p99'])}", "p99 ≤ 1000")
    )
    e2e = r["job_created_to_ended_ms"]
    rows.append(("job createdAt → endedAt p50 / p99 ms", f"{_fmt(e2e['p50'])} / {_fmt(e2e['p99'])}", ""))
    rows.append(("5xx answers", f"{r['server_errors']:,}", "0"))
    rows.append(("requests with no answer (timeouts, resets)", f"{r['transport_errors']:,}", ""))
    not_accepted = sum(r["not_accepted"].values())
    rows.append(
        (
            "failed jobs (not succeeded + not accepted)",
            f"{r['failed_jobs']:,}  ({r['failed_terminal_jobs']:,} + {not_accepted:,})",
            "0",
        )
    )
    rows.append(("jobs not terminal when the run stopped", f"{r['not_terminal_at_deadline']:,}", "0"))
    rows.append(
        (
            "jobs created by a submit answered 5xx or not at all",
            _fmt(r["jobs_created_without_202"], ",")
            + ("" if r["jobs_created_without_202"] is not None else " (GET /jobs unread)"),
            "0",
        )
    )
    rows.append(
        ("lost webhooks (in a timeline, never received)", f"{r['webhooks_lost']:,} of {r['webhooks_expected']:,}", "0")
    )
    rows.append(("duplicate webhooks (same webhook-id again)", f"{r['webhooks_duplicated']:,}", ""))
    labels = list(cps)
    rows.append(
        (
            "RSS MiB, whole stack: " + " / ".join(labels),
            " / ".join(_fmt(cps[label]["rss_mib"]) for label in labels),
            "",
        )
    )
    rows.append(("processes: " + " / ".join(labels), " / ".join(_fmt(cps[label]["processes"]) for label in labels), ""))
    rows.append(
        ("PSS MiB, whole stack: " + " / ".join(labels), " / ".join(_fmt(cps[label]["pss_mib"]) for label in labels), "")
    )
    rows.append(
        (
            f"RSS (PSS) after {s['jobs']:,} ÷ after {WINDOW}",
            f"{_fmt(mem['rss_ratio_after_all_to_after_100'], '.2f')} "
            f"({_fmt(mem['pss_ratio_after_all_to_after_100'], '.2f')})",
            "≤ 1.5",
        )
    )
    sc = r["scaling"]
    rows.append(
        (
            f"scaling: jobs/s of last {WINDOW} ÷ first {WINDOW} terminal",
            f"{_fmt(sc['ratio'], '.2f')}  ({_fmt(sc['last_window_jobs_per_second'], '.2f')} / "
            f"{_fmt(sc['first_window_jobs_per_second'], '.2f')})",
            "≥ 0.8",
        )
    )
    stopped = r["stack_stop"]
    if stopped.get("killed"):
        stop_value = f"> {STOP_KILL_SECONDS:.0f}: killed (SIGKILL to it and its processes)"
    elif stopped.get("already_exited"):
        stop_value = f"- (it had exited, code {stopped.get('exit_code')})"
    else:
        stop_value = f"{_fmt(stopped.get('stop_seconds'), '.1f')}  (exit code {stopped.get('exit_code')})"
    rows.append(
        (
            f"stop seconds: SIGTERM → the stack's process exited ({stopped.get('processes_at_stop', 0)} processes)",
            stop_value,
            f"≤ {STOP_GOAL_SECONDS:.0f}",
        )
    )
    rows.append(
        (
            f"processes of the stack left after it exited: at once / {LEFTOVER_GRACE_SECONDS:.0f} s later",
            f"{_fmt(stopped.get('left_at_exit'), ',')} / {_fmt(stopped.get('left_after_grace'), ',')}",
            "0",
        )
    )
    width = max(len(name) for name, _, _ in rows) + 2
    value_width = max(len(value) for _, value, _ in rows) + 2
    out.write(f"{'':<{width}}{'measured':<{value_width}}goal\n")
    for name, value, goal in rows:
        out.write(f"{name:<{width}}{value:<{value_width}}{goal}\n")
    if r["server_errors_by_status"]:
        out.write(f"5xx by request: {r['server_errors_by_status']}\n")
        for sample in r["server_error_samples"][:1]:
            out.write(f"5xx sample: {sample}\n")
    if r["transport_error_samples"]:
        out.write(f"no-answer sample: {r['transport_error_samples'][0]}\n")
    if r["not_accepted"]:
        out.write(f"not accepted: {r['not_accepted']}\n")
    if r["failed_error_types"]:
        out.write(f"failed jobs by error: {r['failed_error_types']}\n")
        for sample in r["failed_samples"][:1]:
            out.write(f"failed sample: {json.dumps(sample)[:400]}\n")
    drained, settled = r["webhooks_last_arrival_after_last_terminal_seconds"], r.get("settle") or {}
    out.write(
        f"webhooks: the last one arrived {_fmt(drained, ',.1f')} s after the last job ended; the wait for "
        f"missing ones took {_fmt(settled.get('waited_seconds'), ',.1f')} s\n"
    )
    if r["webhooks_rejected"]:
        out.write(f"webhooks refused by the receiver (signature): {r['webhooks_rejected']}\n")
    if r["aborted_over_memory_limit"]:
        out.write(f"stopped early: the stack's memory passed the limit ({r['aborted_over_memory_limit']})\n")
    if r["timed_out"]:
        out.write(f"stopped early: the deadline ({s['deadline_seconds']:.0f} s) passed\n")
    if r["stack"]["exited_during_run"] is not None:
        out.write(f"stopped early: the local stack exited during the run (code {r['stack']['exited_during_run']})\n")
    out.write(
        f"memory peak (sampled every {MEMORY_SAMPLE_SECONDS:.0f} s): RSS {mem['peak']['rss_mib']:,.0f} MiB, "
        f"PSS {mem['peak']['pss_mib']:,.0f} MiB; sampling took {mem['sampling_seconds']:.1f} s of CPU\n"
    )
    cpu = r["cpu_seconds"]
    out.write(
        f"CPU seconds, start to stop: the stack {cpu['stack']:,.0f} (its processes), this load generator "
        f"{cpu['generator']:,.0f} (clients, receiver, memory sampling; peak RSS "
        f"{r['generator_peak_rss_mib']:,.0f} MiB, not in the figures); the stack started in "
        f"{r['stack_start_seconds']:.1f} s\n"
    )
    if stopped.get("left_sample"):
        out.write(f"left after the stack exited (then killed): {stopped['left_sample']}\n")
    log = r["stack_log"]
    if "unreadable" in log:
        out.write(f"stack log {log['path']}: unreadable ({log['unreadable']})\n")
    else:
        by_function = ", ".join(f"{k}: {n}" for k, n in list(log["invocation_errors_by_function"].items())[:4])
        out.write(
            f"stack log {log['path']}: {log['invocations']:,} invocations, {log['invocation_errors']:,} ended in "
            f"an error{f' ({by_function})' if by_function else ''}; {log['tracebacks']:,} tracebacks, "
            f"{log['other_lines']:,} other lines\n"
        )
        for line in log["other_lines_sample"][:2]:
            out.write(f"  e.g. {line}\n")
    return out.getvalue()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000, help="demo jobs to submit (default 1000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads (default 16)")
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="submits per second, all clients together (default 0: each client submits back to back, as fast "
        "as the API answers); a rate below the stack's capacity shows the latencies of a stack that keeps up",
    )
    parser.add_argument("--steps", type=int, default=3, help="steps of each demo job (default 3)")
    parser.add_argument(
        "--step-seconds",
        type=int,
        default=1,
        help="the demo input's stepSeconds: a real Wait after each step but the last (default 1; time_scale "
        "does not shorten it)",
    )
    parser.add_argument(
        "--time-scale", type=float, default=0.01, help="the local stack's time_scale: retry intervals (default 0.01)"
    )
    parser.add_argument(
        "--deadline", type=float, default=900, help="seconds for submitting and waiting, then stop (default 900)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=300,
        help="at most this many seconds to wait, after the last job, for webhooks still missing (default 300)",
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=20,
        help="...but stop waiting once no webhook at all has arrived for this many seconds (default 20)",
    )
    parser.add_argument(
        "--max-memory-gib", type=float, default=8, help="stop early if the stack's summed PSS passes this (default 8)"
    )
    parser.add_argument("--template", type=Path, help="template.yaml to run (default: the local stack's own)")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"JSON to update (default {RESULTS})")
    parser.add_argument("--no-write", action="store_true", help="print the table only; leave the JSON alone")
    parser.add_argument("--progress", action="store_true", help="a progress line on stderr every 5 s")
    parser.add_argument(
        "--verbose", action="store_true", help="also copy the stack's invocation log (see --stack-log) to stderr"
    )
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=STARTUP_SECONDS,
        help=f"seconds for `jobgate local` to answer GET /jobs, else stop with its log's tail (default "
        f"{STARTUP_SECONDS:.0f})",
    )
    parser.add_argument(
        "--stack-log",
        type=Path,
        help="file for the stack's stdout and stderr, appended to (default: stack.log in a new temporary "
        "directory; kept, its path printed)",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.clients < 1:
        parser.error("--jobs and --clients must be at least 1")
    if args.rate < 0:
        parser.error("--rate must be 0 (back to back) or more")
    return args


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: the `finally` blocks stop the stack


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupted)
    about = machine()
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    log_path = args.stack_log or Path(tempfile.mkdtemp(prefix="jobgate-bench-load-")) / "stack.log"
    print(f"bench load: the local stack's output goes to {log_path}", file=sys.stderr, flush=True)
    try:
        result = run(args, log_path)
    except StackDidNotStart as error:
        print(f"bench load: the local stack did not come up: {error}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print(f"bench load: interrupted; the stack was stopped (its log: {log_path})", file=sys.stderr, flush=True)
        return 130
    print(table(result), end="", flush=True)
    if not args.no_write:
        merge_results(args.results, RESULTS_KEY, {"measured_at": measured_at, "machine": about, **result})
    stopped = result["stack_stop"]
    ok = (
        result["server_errors"] == 0
        and result["failed_jobs"] == 0
        and result["webhooks_lost"] == 0
        and not stopped.get("killed")
        and not stopped.get("left_at_exit")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Threads of the clients or the receiver still in a request must not keep the interpreter alive.
    os._exit(code)
