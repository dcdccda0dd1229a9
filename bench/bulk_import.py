"""BENCH.md item 4: bulk-import of a 200,000-row CSV (1 % bad rows) in the local stack.

Reports rows per second validated and loaded, and peak memory growth of the process, each as
a ratio to a bare loop (csv reader + the same pydantic model + nothing else) measured in the
same run. Writes bench/results/latest.json and prints one table.

    make bench            # or: .venv/bin/python bench/bulk_import.py --rows 200000
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from pydantic import ValidationError

from jobgate.bulk_import.schema import CustomerRecord
from jobgate_cli.local.stack import LocalStack, LocalStackConfig
from jobgate_cli.local.tenants_seed import TenantSeed

HEADER = "email,name,country,signupDate,lifetimeValue\n"
RESULTS = Path(__file__).parent / "results" / "latest.json"
API_KEY = "jg_bench-key"


def row(n: int) -> str:
    if n % 100 == 99:  # 1 % invalid: an unknown country
        return f"bench-{n}@example.com,Customer {n},XX,2024-01-01,10\n"
    return f"bench-{n}@example.com,Customer {n},DE,2024-01-{1 + n % 28:02d},{n % 1000}.50\n"


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for n in range(rows):
            out.write(row(n))


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


def local_stack_import(path: Path, rows: int) -> dict[str, Any]:
    stack = LocalStack(
        LocalStackConfig(port=0, aws_port=0, tenants=[TenantSeed("bench", API_KEY, "whsec_" + "A" * 32)])
    )
    stack.start()
    try:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {API_KEY}"
        before = peak_rss_mib()
        started = time.perf_counter()
        upload = session.post(f"{stack.api_url}/uploads", timeout=30).json()
        with path.open("rb") as body:
            requests.put(upload["url"], data=body, timeout=600).raise_for_status()
        job = session.post(
            f"{stack.api_url}/jobs", json={"type": "bulk-import", "input": {"upload": upload["uploadId"]}}, timeout=30
        ).json()
        while True:
            current = session.get(f"{stack.api_url}/jobs/{job['id']}", timeout=30).json()
            if current["status"] in {"succeeded", "failed", "cancelled"}:
                break
            time.sleep(1)
        seconds = time.perf_counter() - started
        result = session.get(f"{stack.api_url}/jobs/{job['id']}/result", timeout=30, allow_redirects=True).json()
        return {
            "status": current["status"],
            "seconds": seconds,
            "rows_loaded": result.get("rowsLoaded"),
            "rows_rejected": result.get("rowsRejected"),
            "peak_rss_growth_mib": peak_rss_mib() - before,
        }
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "import.csv"
        write_csv(path, args.rows)
        size_mib = path.stat().st_size / 2**20
        bare = bare_loop(path)
        stack = local_stack_import(path, args.rows)
    figures = {
        "rows": args.rows,
        "file_mib": round(size_mib, 1),
        "bare_loop": {**bare, "rows_per_second": args.rows / bare["seconds"]},
        "local_stack": {**stack, "rows_per_second": args.rows / stack["seconds"]},
    }
    figures["ratio_rows_per_second"] = (
        figures["local_stack"]["rows_per_second"] / figures["bare_loop"]["rows_per_second"]
    )
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"bulk_import": figures}, indent=2) + "\n")
    table = io.StringIO()
    table.write(f"bulk-import, {args.rows:,} rows ({size_mib:.1f} MiB, 1 % bad)\n")
    table.write(f"{'':<14}{'seconds':>10}{'rows/s':>12}{'peak RSS growth MiB':>22}\n")
    for name, key in (("bare loop", "bare_loop"), ("local stack", "local_stack")):
        f = figures[key]
        table.write(f"{name:<14}{f['seconds']:>10.1f}{f['rows_per_second']:>12,.0f}{f['peak_rss_growth_mib']:>22.1f}\n")
    table.write(f"local stack / bare loop, rows/s: {figures['ratio_rows_per_second']:.3f}\n")
    table.write(f"job {stack['status']}: {stack['rows_loaded']} loaded, {stack['rows_rejected']} rejected\n")
    print(table.getvalue(), end="")
    return 0 if stack["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
