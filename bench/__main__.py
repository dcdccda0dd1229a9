"""`make bench`: run the benchmarks of BENCH.md, each in a fresh interpreter, one after another.

    .venv/bin/python -m bench                      # every item built so far
    .venv/bin/python -m bench load --jobs 300      # one item (make bench BENCH=load BENCH_ARGS="--jobs 300")
    .venv/bin/python -m bench bulk-import --rows 20000
    .venv/bin/python -m bench cost --type my-type --input @job.json   # meter your own job type
    .venv/bin/python -m bench faults --jobs 60

Each item prints its table and writes its own key of bench/results/latest.json, keeping the
others'. A fresh interpreter per item keeps one item's memory out of the next one's figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# BENCH.md item -> script; in the order `make bench` runs them.
ITEMS = {
    "cost": HERE / "cost.py",  # item 1
    "cold-start": HERE / "cold_start.py",  # item 2
    "load": HERE / "load.py",  # item 3
    "bulk-import": HERE / "bulk_import.py",  # item 4
    "faults": HERE / "faults.py",  # item 5
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("items", nargs="*", metavar="ITEM", help=f"items to run: {', '.join(ITEMS)} (default all)")
    parser.add_argument(
        "--jobs",
        type=int,
        help="load: demo jobs to submit (1000); cost: jobs side by side per round (3); faults: jobs in all (48)",
    )
    parser.add_argument("--type", help="cost: meter this job type instead of the reference jobs")
    parser.add_argument("--input", help="cost: the job type's input, JSON or @file")
    parser.add_argument("--clients", type=int, help="load: concurrent client threads (default 16)")
    parser.add_argument("--rate", type=float, help="load: submits per second, all clients (default: back to back)")
    parser.add_argument("--deadline", type=float, help="load and bulk-import: seconds before an item gives up")
    parser.add_argument("--rows", type=int, help="bulk-import: rows of the CSV (default 200000)")
    parser.add_argument("--rounds", type=int, help="cold-start: fresh interpreters per handler (default 15)")
    parser.add_argument("--progress", action="store_true", help="load: a progress line on stderr every 5 s")
    parser.add_argument("--no-write", action="store_true", help="print the tables only; leave latest.json alone")
    args = parser.parse_args(argv)
    unknown = [item for item in args.items if item not in ITEMS]
    if unknown:
        parser.error(f"unknown item {', '.join(unknown)}: choose from {', '.join(ITEMS)}")
    items = list(dict.fromkeys(args.items)) or list(ITEMS)
    write = _switch("no-write", args.no_write)
    options = {
        "load": _flags(jobs=args.jobs, clients=args.clients, rate=args.rate, deadline=args.deadline)
        + _switch("progress", args.progress)
        + write,
        "bulk-import": _flags(rows=args.rows, deadline=args.deadline) + write,
        "cold-start": _flags(rounds=args.rounds) + write,
        "cost": _flags(jobs=args.jobs, type=args.type, input=args.input) + write,
        "faults": _flags(jobs=args.jobs) + write,
    }
    failed: list[str] = []
    for item in items:
        command = [sys.executable, str(ITEMS[item]), *options[item]]
        print(f"==> bench {item}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        code = subprocess.call(command)
        print(f"==> bench {item}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(item)
    if failed:
        print(f"==> bench: goals not met or errors in: {', '.join(failed)} (see the tables above)", flush=True)
    return 1 if failed else 0


def _flags(**values: float | str | None) -> list[str]:
    return [part for name, value in values.items() if value is not None for part in (f"--{name}", str(value))]


def _switch(name: str, on: bool) -> list[str]:
    return [f"--{name}"] if on else []


if __name__ == "__main__":
    sys.exit(main())
