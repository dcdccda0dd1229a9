"""BENCH.md item 2: cold start, each function's handler import time against a bare handler.

For every AWS::Serverless::Function of template.yaml, and for a bare Powertools HTTP API
handler with one boto3 DynamoDB client (bench/fixtures/bare_handler.py), a fresh interpreter
imports the handler's module and reports how long the import took (time.perf_counter around
importlib.import_module: interpreter start-up is the same for all and not counted). The
modules' paths are the function's CodeUri and the layer, as on Lambda; the environment is
the template's Globals (parameters at their defaults) with dummy credentials and region.
Each round imports every module once in a shuffled order; the table gives each module's
median over the rounds and its ratio to the bare handler's median, measured in the same run.
It also gives the import's CPU time (time.process_time, the child's own): on a machine shared
with other work a process waits for a core, which wall time counts and CPU time does not.

The bare handler builds its DynamoDB client at import; the API builds its clients on its
first request. So each round also times, in fresh interpreters of their own, the first
`GET` of the API and of the bare handler (bench/first_request.py, moto answering in
process), and the table adds it to their imports: the ratio of the sums compares the two
cold starts whole.

    make bench BENCH=cold-start                # or: .venv/bin/python bench/cold_start.py --rounds 15
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_results import machine, merge_results  # bench/ is the script's own directory

from jobgate_cli.sam_template import global_environment, load_template

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "template.yaml"
LAYER = REPO / "layers" / "jobgate"
BARE = "bare Powertools HTTP handler + boto3 DynamoDB client"
BARE_DIR = Path(__file__).resolve().parent / "fixtures"
RESULTS = Path(__file__).parent / "results" / "latest.json"
FIRST_REQUEST = Path(__file__).resolve().parent / "first_request.py"
# The handlers whose first request is measured too, by bench/first_request.py's target names.
FIRST_REQUEST_TARGETS = {BARE: "bare", "ApiFunction": "api"}
RESULTS_KEY = "cold_start"
GOAL_RATIO = 1.25  # BENCH.md: every handler <= 1.25x the bare handler
IMPORT_ONE = (
    "import importlib, sys, time; started, cpu = time.perf_counter(), time.process_time(); "
    "importlib.import_module(sys.argv[1]); print(time.perf_counter() - started, time.process_time() - cpu)"
)


@dataclass(frozen=True)
class Handler:
    name: str  # the template's logical id, or BARE
    module: str
    path: tuple[Path, ...]


def handlers(template: dict[str, Any]) -> list[Handler]:
    found = [Handler(BARE, "bare_handler", (BARE_DIR,))]
    for logical_id, resource in sorted(template["Resources"].items()):
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        module = str(properties["Handler"]).rsplit(".", 1)[0]
        found.append(Handler(logical_id, module, (REPO / str(properties["CodeUri"]), LAYER)))
    return found


def environment(template: dict[str, Any]) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        **global_environment(template),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        # As Lambda with active tracing sets them: outside Lambda the X-Ray SDK (the Tracer's,
        # built by the first request) builds sampling clients that Lambda's never does.
        "LAMBDA_TASK_ROOT": str(REPO),
        "_X_AMZN_TRACE_ID": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1",
    }


@dataclass(frozen=True)
class Seconds:
    wall: float
    cpu: float  # the child's own CPU time over the same span


def import_seconds(handler: Handler, env: dict[str, str]) -> Seconds:
    return _child_seconds(handler, [sys.executable, "-c", IMPORT_ONE, handler.module], env)


def first_request_seconds(handler: Handler, env: dict[str, str]) -> Seconds:
    """The handler's first GET, in a fresh interpreter (bench/first_request.py; it needs cli/ too)."""
    command = [sys.executable, str(FIRST_REQUEST), FIRST_REQUEST_TARGETS[handler.name]]
    return _child_seconds(replace(handler, path=(*handler.path, REPO / "cli")), command, env)


def _child_seconds(handler: Handler, command: list[str], env: dict[str, str]) -> Seconds:
    """The wall and CPU seconds the child prints on the first line of its output."""
    done = subprocess.run(
        command,
        env={**env, "PYTHONPATH": os.pathsep.join(str(p) for p in handler.path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{handler.name}: {' '.join(command[1:])} failed:\n{done.stderr[-2000:]}")
    wall, cpu = done.stdout.strip().splitlines()[0].split()
    return Seconds(float(wall), float(cpu))


def measure(rounds: int, seed: int | None) -> dict[str, Any]:
    template = load_template(TEMPLATE)
    found = handlers(template)
    env = environment(template)
    # Every measurement of a round: (handler, measures its first request rather than its import).
    probes = [(h, False) for h in found] + [(h, True) for h in found if h.name in FIRST_REQUEST_TARGETS]
    for handler, first in probes:  # a first, unmeasured run of each writes the bytecode caches, for all alike
        (first_request_seconds if first else import_seconds)(handler, env)
    samples: dict[tuple[str, bool], list[Seconds]] = {(h.name, first): [] for h, first in probes}
    shuffle = random.Random(seed)
    for _ in range(rounds):
        order = probes[:]
        shuffle.shuffle(order)
        for handler, first in order:
            samples[handler.name, first].append((first_request_seconds if first else import_seconds)(handler, env))
    median = {key: statistics.median(s.wall for s in values) for key, values in samples.items()}
    cpu = {key: statistics.median(s.cpu for s in values) for key, values in samples.items()}
    rows: dict[str, dict[str, Any]] = {}
    for h in found:
        rows[h.name] = {"module": h.module}
        for prefix, figure in (("", median), ("cpu_", cpu)):
            rows[h.name] |= {
                f"{prefix}median_ms": round(figure[h.name, False] * 1000, 1),
                f"{prefix}ratio_to_bare": round(figure[h.name, False] / figure[BARE, False], 3),
            }
            if h.name in FIRST_REQUEST_TARGETS:
                whole, bare_whole = (figure[n, False] + figure[n, True] for n in (h.name, BARE))
                rows[h.name] |= {
                    f"first_request_{prefix}median_ms": round(figure[h.name, True] * 1000, 1),
                    f"with_first_request_{prefix}ratio_to_bare": round(whole / bare_whole, 3),
                }
    return {
        "rounds": rounds,
        "bare_median_ms": round(median[BARE, False] * 1000, 1),
        "bare_cpu_median_ms": round(cpu[BARE, False] * 1000, 1),
        "handlers": rows,
    }


def table(figures: dict[str, Any]) -> str:
    lines = [
        f"cold start: import time of each handler module, median of {figures['rounds']} fresh interpreters, "
        f"shuffled; ratio to the bare handler measured alongside",
        f"{'function':38} {'module':26} {'median ms':>10} {'ratio':>7}  {f'goal <= {GOAL_RATIO}':13}"
        f"{'cpu ms':>8} {'ratio':>6} {'+ first GET ms':>15} {'ratio':>6} {'cpu ms':>7} {'ratio':>6}",
    ]
    for name, row in sorted(figures["handlers"].items(), key=lambda item: -item[1]["ratio_to_bare"]):
        met = "" if name == BARE else ("ok" if row["ratio_to_bare"] <= GOAL_RATIO else "over")
        first = ""
        if "first_request_median_ms" in row:
            first = (
                f" {row['first_request_median_ms']:>15,.1f} {row['with_first_request_ratio_to_bare']:>6.2f}"
                f" {row['first_request_cpu_median_ms']:>7,.1f} {row['with_first_request_cpu_ratio_to_bare']:>6.2f}"
            )
        lines.append(
            f"{name[:38]:38} {row['module'][:26]:26} {row['median_ms']:>10,.1f} {row['ratio_to_bare']:>7.2f}  "
            f"{met:13}{row['cpu_median_ms']:>8,.1f} {row['cpu_ratio_to_bare']:>6.2f}{first}".rstrip()
        )
    lines.append(
        "cpu: the import's CPU time (the child's own), which waiting for a core does not count; + first GET: the "
        "first GET /jobs/{id} (the bare handler: GET /items/{id}) in a fresh interpreter after the import, moto "
        "answering in process; its ratios are (import + first GET) / the bare handler's"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15, help="fresh interpreters per module (default 15)")
    parser.add_argument("--seed", type=int, help="seed of the shuffle (default: a random one)")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"JSON to update (default {RESULTS})")
    parser.add_argument("--no-write", action="store_true", help="print the table only; leave the JSON alone")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    about = machine()
    figures = measure(args.rounds, args.seed)
    print(table(figures), flush=True)
    if not args.no_write:
        merge_results(
            args.results,
            RESULTS_KEY,
            {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": about, **figures},
        )
    over = [n for n, r in figures["handlers"].items() if n != BARE and r["ratio_to_bare"] > GOAL_RATIO]
    if over:
        print(f"over the goal ({GOAL_RATIO}x): {', '.join(over)}", flush=True)
    return 0  # a ratio over its goal is a finding in the table, not an error


if __name__ == "__main__":
    sys.exit(main())
