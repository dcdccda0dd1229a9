"""BENCH.md item 4: bulk-import of a 200,000-row CSV (1 % bad rows) in the local stack.

Reports rows per second validated and loaded, and peak memory growth of the process, each as
a ratio to a bare loop (csv reader + the same pydantic model + nothing else) measured in the
same run; and the rate of the last 20k rows ÷ the rate of the first 20k, measured from outside
through the job's progress (bytes processed, long-polled). Writes its figures under
"bulk_import" in bench/results/latest.json (other items' figures are kept) and prints one table.

    make bench BENCH=bulk-import      # or: .venv/bin/python bench/bulk_import.py --rows 200000
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import os
import re
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from bench_results import machine, merge_results  # bench/ is the script's own directory
from pydantic import ValidationError

from jobgate.jobtypes.bulk_import.schema import CustomerRecord
from jobgate_cli.local.stack import LocalStack, LocalStackConfig
from jobgate_cli.local.tenants_seed import TenantSeed

HEADER = "email,name,country,signupDate,lifetimeValue\n"
RESULTS = Path(__file__).parent / "results" / "latest.json"
RESULTS_KEY = "bulk_import"
API_KEY = "jg_bench-key"
HOST = "127.0.0.1"
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
RATE_WINDOW_ROWS = 20_000  # BENCH.md: the rate of the last 20k rows ÷ the first 20k
MAX_WAIT_SECONDS = 20  # docs/api.md: Prefer: wait=N, N capped at 20
# The chunks' progress message: "Loading: 1,234,567 of 12,163,981 bytes processed."
BYTES_DONE = re.compile(r"([\d,]+) of ([\d,]+) bytes")


def row(n: int) -> str:
    if n % 100 == 99:  # 1 % invalid: an unknown country
        return f"bench-{n}@example.com,Customer {n},XX,2024-01-01,10\n"
    return f"bench-{n}@example.com,Customer {n},DE,2024-01-{1 + n % 28:02d},{n % 1000}.50\n"


def write_csv(path: Path, rows: int) -> list[int]:
    """Writes the file; returns `ends`, where ends[k] is the byte offset just after row k (ends[0]:
    after the header), so that `ends[k]` bytes processed means k rows processed."""
    ends = [len(HEADER.encode())]
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for n in range(rows):
            line = row(n)
            out.write(line)
            ends.append(ends[-1] + len(line.encode()))
    return ends


@dataclass(frozen=True)
class Sample:
    """A version of the job seen by the long-poll: its updatedAt (server clock) and bytes processed."""

    at: float
    bytes_done: int


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def bytes_done(job: dict[str, Any], total: int) -> int | None:
    """Bytes processed by the load pass, from the progress message (else from percent)."""
    progress = job.get("progress") or {}
    load = next((s for s in progress.get("steps") or [] if s.get("name") == "load"), None)
    if load is None or load.get("status") == "pending":
        return None
    match = BYTES_DONE.search(str(progress.get("message") or ""))
    if match and match.group(2).replace(",", "") == str(total):
        return int(match.group(1).replace(",", ""))
    if job.get("status") == "succeeded" or load.get("status") == "succeeded":
        return total
    percent = progress.get("percent")  # coarser: whole percents of the file
    return int(total * percent / 100) if isinstance(percent, int) else None


def crossing(samples: list[Sample], threshold: int) -> float | None:
    """When bytes processed reached `threshold`: linear between the two samples around it."""
    for before, after in itertools.pairwise(samples):
        if before.bytes_done < threshold <= after.bytes_done:
            fraction = (threshold - before.bytes_done) / (after.bytes_done - before.bytes_done)
            return before.at + fraction * (after.at - before.at)
    return samples[0].at if samples and samples[0].bytes_done >= threshold else None


def rate_windows(samples: list[Sample], ends: list[int], window: int) -> dict[str, Any]:
    """Rows/s of the first `window` rows (load start → ends[window] bytes processed) and of the
    last `window` (ends[n - window] bytes → all bytes processed); the chunks run concurrently,
    so "rows" are rows' worth of bytes processed, whichever chunk they were in."""
    rows, total = len(ends) - 1, ends[-1]
    first_at = crossing(samples, ends[window])
    last_from = crossing(samples, ends[rows - window])
    done_at = crossing(samples, total)
    start = samples[0].at if samples else None
    first = window / (first_at - start) if first_at is not None and start is not None and first_at > start else None
    last = (
        window / (done_at - last_from)
        if done_at is not None and last_from is not None and done_at > last_from
        else None
    )
    return {
        "window_rows": window,
        "definition": (
            f"rows/s over the last {window:,} rows' bytes (from {ends[rows - window]:,} bytes processed to "
            f"{total:,}) ÷ rows/s over the first {window:,} (from the load step's start to {ends[window]:,} bytes); "
            "times are the job's updatedAt at each progress change seen by a long-poll, interpolated"
        ),
        "first_rows_per_second": None if first is None else round(first, 1),
        "last_rows_per_second": None if last is None else round(last, 1),
        "ratio_last_to_first": None if first is None or last is None else round(last / first, 3),
        "progress_samples": len(samples),
    }


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def bare_loop(path: Path) -> dict[str, float]:
    """What validation alone costs: csv reader + the model, nothing stored."""
    before = peak_rss_mib()
    started = time.perf_counter()
    valid = 0
    with path.open(encoding="utf-8", newline="") as source:
        for record in csv.DictReader(source):
            try:
                CustomerRecord.model_validate(record)
                valid += 1
            except ValidationError:
                pass
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_valid": valid, "peak_rss_growth_mib": peak_rss_mib() - before}


def _only_local(url: str) -> str:
    if urlsplit(url).hostname != HOST:
        raise SystemExit(f"refusing to send the benchmark's traffic to {url}: only {HOST}")
    return url


def local_stack_import(path: Path, ends: list[int], window: int, deadline_seconds: float) -> dict[str, Any]:
    stack = LocalStack(
        LocalStackConfig(port=0, aws_port=0, tenants=[TenantSeed("bench", API_KEY, "whsec_" + "A" * 32)])
    )
    stack.start()
    try:
        api = _only_local(stack.api_url)
        session = requests.Session()
        session.trust_env = False  # no proxy from the environment: everything goes to 127.0.0.1
        session.headers["Authorization"] = f"Bearer {API_KEY}"
        before = peak_rss_mib()
        started = time.perf_counter()
        deadline = time.monotonic() + deadline_seconds
        upload = session.post(f"{api}/uploads", timeout=30).json()
        with path.open("rb") as body:
            requests.put(_only_local(upload["url"]), data=body, timeout=600).raise_for_status()
        job = session.post(
            f"{api}/jobs", json={"type": "bulk-import", "input": {"upload": upload["uploadId"]}}, timeout=30
        ).json()
        current, samples = follow(session, f"{api}/jobs/{job['id']}", ends[-1], deadline)
        seconds = time.perf_counter() - started
        result: dict[str, Any] = {}
        if current.get("status") == "succeeded":
            result = session.get(f"{api}/jobs/{job['id']}/result", timeout=30, allow_redirects=True).json()
        return {
            "status": current.get("status"),
            "seconds": seconds,
            "rows_loaded": result.get("rowsLoaded"),
            "rows_rejected": result.get("rowsRejected"),
            "peak_rss_growth_mib": peak_rss_mib() - before,
            "rate_windows": rate_windows(samples, ends, window),
        }
    finally:
        stack.stop()


def follow(session: requests.Session, url: str, total: int, deadline: float) -> tuple[dict[str, Any], list[Sample]]:
    """Long-poll the job (If-None-Match + Prefer: wait) until it is terminal or the deadline passes;
    every version seen is a progress sample, timed by its updatedAt."""
    samples: list[Sample] = []
    current: dict[str, Any] = {"status": "unknown (deadline passed)"}
    etag: str | None = None
    while time.monotonic() < deadline:
        headers = {"If-None-Match": etag, "Prefer": f"wait={MAX_WAIT_SECONDS}"} if etag else {}
        try:
            response = session.get(url, headers=headers, timeout=MAX_WAIT_SECONDS + 30)
        except requests.RequestException:
            time.sleep(1)
            continue
        if response.status_code == 304:
            continue
        if response.status_code != 200:
            time.sleep(min(30.0, float(response.headers.get("Retry-After") or 1)))
            continue
        etag = response.headers.get("ETag")
        current = response.json()
        done = bytes_done(current, total)
        if done is not None:
            if not samples:
                # The load step's start is where the first window begins (0 bytes processed).
                load = next(s for s in current["progress"]["steps"] if s.get("name") == "load")
                samples.append(Sample(parse_time(load.get("startedAt") or current["startedAt"]), 0))
            if done > samples[-1].bytes_done:
                samples.append(Sample(parse_time(current["updatedAt"]), done))
        if current["status"] in TERMINAL:
            break
    return current, samples


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """The functions log to stdout (fd 1, inherited by any worker process): send that to stderr
    while the stack runs, so that stdout carries the table alone."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the CSV (default 200000)")
    parser.add_argument(
        "--deadline", type=float, default=3600, help="seconds to wait for the job, then give up (default 3600)"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"JSON to update (default {RESULTS})")
    parser.add_argument("--no-write", action="store_true", help="print the table only; leave the JSON alone")
    args = parser.parse_args(argv)
    if args.rows < 2:
        parser.error("--rows must be at least 2")
    window = min(RATE_WINDOW_ROWS, args.rows // 2)
    about = machine()
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "import.csv"
        ends = write_csv(path, args.rows)
        size_mib = path.stat().st_size / 2**20
        bare = bare_loop(path)
        with stdout_to_stderr():
            stack = local_stack_import(path, ends, window, args.deadline)
    figures = {
        "measured_at": measured_at,
        "machine": about,
        "rows": args.rows,
        "file_mib": round(size_mib, 1),
        "bare_loop": {**bare, "rows_per_second": args.rows / bare["seconds"]},
        "local_stack": {**stack, "rows_per_second": args.rows / stack["seconds"]},
    }
    figures["ratio_rows_per_second"] = (
        figures["local_stack"]["rows_per_second"] / figures["bare_loop"]["rows_per_second"]
    )
    if not args.no_write:
        merge_results(args.results, RESULTS_KEY, figures)
    table = io.StringIO()
    table.write(f"bulk-import, {args.rows:,} rows ({size_mib:.1f} MiB, 1 % bad)\n")
    table.write(f"{'':<14}{'seconds':>10}{'rows/s':>12}{'peak RSS growth MiB':>22}\n")
    for name, key in (("bare loop", "bare_loop"), ("local stack", "local_stack")):
        f = figures[key]
        table.write(f"{name:<14}{f['seconds']:>10.1f}{f['rows_per_second']:>12,.0f}{f['peak_rss_growth_mib']:>22.1f}\n")
    table.write(f"local stack / bare loop, rows/s: {figures['ratio_rows_per_second']:.3f}\n")
    windows = stack["rate_windows"]

    def rate(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    table.write(
        f"last {window:,} rows ÷ first {window:,}, rows/s: {rate(windows['ratio_last_to_first'], '.3f')} "
        f"({rate(windows['last_rows_per_second'], ',.0f')} / {rate(windows['first_rows_per_second'], ',.0f')}; "
        f"goal ≥ 0.8)\n"
    )
    table.write(f"job {stack['status']}: {stack['rows_loaded']} loaded, {stack['rows_rejected']} rejected\n")
    print(table.getvalue(), end="")
    return 0 if stack["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
