"""BENCH.md item 5: jobs of every type under injected faults, and the invariants they keep.

The same faults and checks as tests/e2e/test_fault_invariants_e2e.py (jobgate_cli/local/
fault_check.py) over a larger run: `--jobs` jobs in all, spread evenly over demo,
order-fulfillment, bulk-import and background-check, each with a webhook callback. Prints
the jobs per type and final status, the faults injected per kind and the violations per
invariant; writes them under "faults" in bench/results/latest.json (other items' figures
are kept). Exits 1 when an invariant was violated.

    make bench BENCH=faults BENCH_ARGS="--jobs 60"   # or: .venv/bin/python bench/faults.py --jobs 60
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_results import machine, merge_results  # bench/ is the script's own directory
from bulk_import import stdout_to_stderr

from jobgate_cli.local import fault_check
from jobgate_cli.local.stack import LocalStack, LocalStackConfig
from jobgate_cli.local.tenants_seed import TenantSeed

RESULTS = Path(__file__).parent / "results" / "latest.json"
RESULTS_KEY = "faults"
API_KEY = "jg_bench-faults-key"
SECRET = "whsec_" + "F" * 32
# Past the webhook retry queue's VisibilityTimeout (360 s): a retry handed back comes again by then.
SETTLE_SECONDS = 420


def run(jobs_per_type: int, record: Path, settle_seconds: float) -> tuple[fault_check.Report, float]:
    stack = LocalStack(
        LocalStackConfig(
            port=0,
            aws_port=0,
            tenants=[TenantSeed("bench", API_KEY, SECRET)],
            fault_record=record,
            **fault_check.stack_settings(),
        )
    )
    stack.start()
    try:
        started = time.monotonic()
        report = fault_check.run(
            stack.api_url, API_KEY, stack.endpoints.client, record, jobs_per_type, settle_seconds=settle_seconds
        )
        return report, time.monotonic() - started
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=48, help="jobs in all, spread over the four types (default 48)")
    parser.add_argument(
        "--settle",
        type=float,
        default=SETTLE_SECONDS,
        help=f"seconds to wait after the jobs for webhooks to be delivered or dead-lettered (default {SETTLE_SECONDS})",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"JSON to update (default {RESULTS})")
    parser.add_argument("--no-write", action="store_true", help="print the table only; leave the JSON alone")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    jobs_per_type = math.ceil(args.jobs / len(fault_check.JOB_TYPES))
    about = machine()
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory() as directory, stdout_to_stderr():
        report, seconds = run(jobs_per_type, Path(directory) / "injected.txt", args.settle)
    if not args.no_write:
        merge_results(
            args.results,
            RESULTS_KEY,
            {
                "measured_at": measured_at,
                "machine": about,
                "jobs_per_type": jobs_per_type,
                "faults": fault_check.FAULTS,
                "seconds": round(seconds, 1),
                **report.as_json(),
            },
        )
    print(f"faults: {jobs_per_type * len(fault_check.JOB_TYPES)} jobs ({jobs_per_type} per type) in {seconds:.0f} s")
    print(report.table())
    if not report.ok:
        for name, found in report.violations.items():
            for example in found[:5]:
                print(f"  {name}: {example}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
