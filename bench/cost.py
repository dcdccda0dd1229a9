"""BENCH.md item 1: what a job costs on AWS, in $ per million jobs, from the local stack's meter.

For each job type (demo, order-fulfillment, bulk-import with a small CSV, background-check)
and for a 60 s demo job, `--jobs` reference jobs run side by side, once with a polite client
and once with a naive one, in one local stack (LocalStackConfig.meter, docs/local-stack.md):

- polite: honours `Retry-After`, then asks again with `If-None-Match` and `Prefer: wait=20`
  (docs/api.md), and fetches the result;
- naive: `GET /jobs/{id}` every second without `If-None-Match` until the job is finished,
  then fetches the result.

Each round's bill is everything the stack counted from its first submit until the stack is
quiet again (webhook dispatches, reconciliations included), divided by its jobs. Before a job
type's rounds, an unmeasured warm-up round starts its functions' environments: a cold start
is per environment, and on AWS one environment serves many jobs. The stack runs at time scale
1 and every wait is real, so durations (Lambda, Express) and the naive client's once a second
are those of AWS. Scheduled work (the sweeper) and the idle polling of SQS are a cost per
month, not per job, and are reported apart.

    make bench BENCH=cost                                            # every job type, 3 jobs each
    make bench BENCH=cost BENCH_ARGS="--type my-type --input @job.json --jobs 5"
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import requests
from bench_results import machine, merge_results  # bench/ is the script's own directory

from jobgate.jobtypes.order_fulfillment.store import StockStore
from jobgate_cli.billing.meter import Bill
from jobgate_cli.billing.prices import PRICES_AS_OF, Unit
from jobgate_cli.billing.stack_meter import FixedCost, StackMeter, by_service
from jobgate_cli.local.fault_check import order_input
from jobgate_cli.local.stack import LocalStack, LocalStackConfig
from jobgate_cli.local.tenants_seed import TenantSeed

RESULTS = Path(__file__).parent / "results" / "latest.json"
RESULTS_KEY = "cost"
API_KEY = "jg_bench-cost-key"
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
MAX_WAIT_SECONDS = 20  # docs/api.md: Prefer: wait=N, N capped at 20
NAIVE_INTERVAL_SECONDS = 1.0
REQUEST_TIMEOUT = 30.0
QUIET_SECONDS = 3.0  # the stack is settled when its bill has not moved for this long
SETTLE_CAP_SECONDS = 60.0
# BENCH.md / issue 11 goals.
GOAL_DOLLARS_PER_MILLION = {"demo": 40.0, "order-fulfillment": 60.0}
GOAL_LONG_JOB_REQUESTS = 6
GOAL_LONG_JOB_RATIO = 0.1
LONG_DEMO = "demo, 60 s"
SERVICES = ("API Gateway", "Lambda", "Step Functions", "DynamoDB", "SQS", "S3", "CloudWatch Logs")
ClientKind = Literal["polite", "naive"]
CLIENTS: tuple[ClientKind, ...] = ("polite", "naive")
CSV_ROWS = 20


@dataclass(frozen=True)
class Scenario:
    label: str
    job_type: str
    job_input: dict[str, Any]
    warm_up: bool = True
    # Makes a job's input (a bulk import's upload); its requests count as the client's.
    prepare: Callable[[Api], dict[str, Any]] | None = None


class Api:
    """One client's session with the API, counting its requests."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests = 0
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy from the environment: everything goes to 127.0.0.1
        self._session.headers["Authorization"] = f"Bearer {API_KEY}"

    def call(self, method: str, path_or_url: str, **kwargs: Any) -> requests.Response:
        self.requests += 1
        url = path_or_url if path_or_url.startswith("http") else self.url + path_or_url
        timeout = REQUEST_TIMEOUT + (MAX_WAIT_SECONDS if "Prefer" in kwargs.get("headers", {}) else 0)
        return self._session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)

    def close(self) -> None:
        self._session.close()


def retry_after(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def run_job(api: Api, scenario: Scenario, client: ClientKind) -> str:
    """Submit one job, follow it as `client` does until it is finished, fetch its result; its status."""
    job_input = scenario.prepare(api) if scenario.prepare else scenario.job_input
    submitted = api.call(
        "POST",
        "/jobs",
        json={"type": scenario.job_type, "input": job_input},
        headers={"Idempotency-Key": f"cost-{secrets.token_hex(8)}"},
    )
    if submitted.status_code != 202:
        return f"HTTP {submitted.status_code} on submit: {submitted.text[:200]}"
    job = submitted.json()
    etag, last = submitted.headers.get("ETag"), submitted
    while job["status"] not in TERMINAL:
        if client == "polite":
            time.sleep(retry_after(last))
            headers = {"If-None-Match": etag, "Prefer": f"wait={MAX_WAIT_SECONDS}"} if etag else {}
        else:
            time.sleep(NAIVE_INTERVAL_SECONDS)
            headers = {}
        last = api.call("GET", f"/jobs/{job['id']}", headers=headers)
        if last.status_code == 200:
            job, etag = last.json(), last.headers.get("ETag")
        elif last.status_code != 304:
            return f"HTTP {last.status_code} on poll: {last.text[:200]}"
    if job["status"] == "succeeded":
        api.call("GET", f"/jobs/{job['id']}/result")  # a 303 of a large result is not followed
    return str(job["status"])


@dataclass
class Round:
    scenario: str
    client: ClientKind
    jobs: int
    statuses: dict[str, int]
    client_requests: int
    seconds: float
    bill: Bill

    def per_job(self, unit: Unit) -> float:
        return sum(line.quantity for line in self.bill.lines if line.unit is unit) / self.jobs

    @property
    def dollars_per_million(self) -> float:
        return self.bill.per_million(self.jobs)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "client": self.client,
            "jobs": self.jobs,
            "statuses": self.statuses,
            "seconds": round(self.seconds, 1),
            "dollars_per_million_jobs": self.dollars_per_million,
            "by_service_per_million_jobs": {
                service: dollars / self.jobs * 1e6 for service, dollars in by_service(self.bill).items()
            },
            "client_requests_per_job": self.client_requests / self.jobs,
            "units_per_job": {unit.value: self.per_job(unit) for unit in Unit if self.per_job(unit)},
            "lines": [
                {"unit": line.unit.value, "spent_by": line.spent_by, "quantity": line.quantity}
                | {"dollars_per_million_jobs": line.dollars / self.jobs * 1e6}
                for line in self.bill.lines
            ],
        }


@dataclass
class Bench:
    stack: LocalStack
    meter: StackMeter
    jobs: int
    rounds: list[Round] = field(default_factory=list)

    def run_scenario(self, scenario: Scenario) -> None:
        if scenario.warm_up:
            self.run_round(scenario, "polite")
        for client in CLIENTS:
            self.rounds.append(self.run_round(scenario, client))
            print(f"  {scenario.label:<24} {client:<6} done", file=sys.stderr, flush=True)

    def run_round(self, scenario: Scenario, client: ClientKind) -> Round:
        self.meter.reset_work()
        apis = [Api(self.stack.api_url) for _ in range(self.jobs)]
        statuses: list[str] = ["no answer"] * self.jobs
        started = time.monotonic()

        def one(index: int) -> None:
            try:
                statuses[index] = run_job(apis[index], scenario, client)
            except requests.RequestException as error:
                statuses[index] = f"{type(error).__name__}"

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(self.jobs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started
        bill = self.settle()
        for api in apis:
            api.close()
        counted: dict[str, int] = {}
        for status in statuses:
            counted[status] = counted.get(status, 0) + 1
        return Round(scenario.label, client, self.jobs, counted, sum(api.requests for api in apis), seconds, bill)

    def settle(self) -> Bill:
        """The bill once nothing more is counted (dispatches and reconciliations follow a job's end)."""
        deadline = time.monotonic() + SETTLE_CAP_SECONDS
        last = self.meter.reading().work
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            current = self.meter.reading().work
            if current.lines != last.lines:
                last, quiet_since = current, time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET_SECONDS:
                break
        return last


# ---------------------------------------------------------------- the reference jobs


def csv_upload(api: Api) -> dict[str, Any]:
    upload = api.call("POST", "/uploads").json()
    rows = "".join(f"cost-{n}@example.com,Customer {n},DE,2024-01-{1 + n % 28:02d},{n}.50\n" for n in range(CSV_ROWS))
    api.call("PUT", upload["url"], data=("email,name,country,signupDate,lifetimeValue\n" + rows).encode())
    return {"upload": upload["uploadId"]}


def reference_scenarios(jobs: int) -> list[Scenario]:
    order = order_input("mug", quantity=1)
    check = {
        "candidate": {"fullName": "Ada Record", "dateOfBirth": "1990-04-01", "email": "ada@example.com"},
        "timeoutSeconds": 10,
    }
    return [
        Scenario("demo, 3 steps of 1 s", "demo", {"steps": 3, "stepSeconds": 1}),
        Scenario("order-fulfillment", "order-fulfillment", order),
        Scenario(f"bulk-import, {CSV_ROWS} rows", "bulk-import", {}, prepare=csv_upload),
        Scenario("background-check", "background-check", check),
        # 3 steps, a 30 s pause after each but the last: 60 s; demo's functions are warm by now.
        Scenario(LONG_DEMO, "demo", {"steps": 3, "stepSeconds": 30}, warm_up=False),
    ]


def seed_stock(stack: LocalStack, units: int) -> None:
    assert stack.template is not None
    StockStore(stack.endpoints.client("dynamodb"), stack.template.physical_names["StockTable"]).set_available(
        "mug", units
    )


# ---------------------------------------------------------------- goals and the table


@dataclass(frozen=True)
class Goal:
    name: str
    value: float
    limit: float

    @property
    def met(self) -> bool:
        return self.value <= self.limit


def goals(rounds: list[Round]) -> list[Goal]:
    found: list[Goal] = []
    by_key = {(r.scenario, r.client): r for r in rounds}
    for r in rounds:
        limit = GOAL_DOLLARS_PER_MILLION.get(r.scenario.split(",")[0])
        if limit is not None and r.client == "polite" and r.scenario != LONG_DEMO:
            found.append(Goal(f"{r.scenario}: $ per million jobs (polite client)", r.dollars_per_million, limit))
    polite, naive = by_key.get((LONG_DEMO, "polite")), by_key.get((LONG_DEMO, "naive"))
    if polite and naive:
        per_job = polite.client_requests / polite.jobs
        found.append(Goal(f"{LONG_DEMO}: the polite client's requests per job", per_job, GOAL_LONG_JOB_REQUESTS))
        ratio = per_job / (naive.client_requests / naive.jobs)
        found.append(Goal(f"{LONG_DEMO}: polite / naive requests", ratio, GOAL_LONG_JOB_RATIO))
    return found


def table(rounds: list[Round], fixed: list[FixedCost], found: list[Goal], jobs: int) -> str:
    lines = [
        f"cost: $ per million jobs on AWS (list prices, us-east-1, as of {PRICES_AS_OF}), from the local stack's "
        f"meter, {jobs} jobs side by side per row, time scale 1",
        f"{'job':<24} {'client':<6} {'$/M jobs':>9} "
        + " ".join(f"{s.replace('Step Functions', 'SFN').replace('CloudWatch ', '')[:11]:>11}" for s in SERVICES)
        + f" {'req/job':>7}",
    ]
    for r in rounds:
        services = by_service(r.bill)
        lines.append(
            f"{r.scenario:<24} {r.client:<6} {r.dollars_per_million:>9.2f} "
            + " ".join(f"{services.get(s, 0.0) / r.jobs * 1e6:>11.2f}" for s in SERVICES)
            + f" {r.client_requests / r.jobs:>7.1f}"
        )
    lines += ["", "units per job:"]
    unit_columns = [
        ("API req", Unit.API_REQUEST),
        ("Lambda inv", Unit.LAMBDA_REQUEST),
        ("GB-s", Unit.LAMBDA_GB_SECOND),
        ("transitions", Unit.SFN_STANDARD_TRANSITION),
        ("Express", Unit.SFN_EXPRESS_REQUEST),
        ("WRU", Unit.DYNAMODB_WRU),
        ("RRU", Unit.DYNAMODB_RRU),
        ("SQS req", Unit.SQS_REQUEST),
        ("S3 write", Unit.S3_WRITE_REQUEST),
        ("S3 read", Unit.S3_READ_REQUEST),
        ("log KB", Unit.LOG_BYTE),
    ]
    lines.append(f"{'job':<24} {'client':<6} " + " ".join(f"{name:>11}" for name, _ in unit_columns))
    for r in rounds:
        values = [r.per_job(unit) / (1024 if unit is Unit.LOG_BYTE else 1) for _, unit in unit_columns]
        lines.append(f"{r.scenario:<24} {r.client:<6} " + " ".join(f"{v:>11.2f}" for v in values))
    lines += ["", "fixed costs per month, whatever the number of jobs:"]
    lines += [f"  {cost.what:<52} {_dollars(cost.dollars_per_month):>9}  ({cost.how})" for cost in fixed]
    if found:
        lines += ["", "goals:"]
        lines += [f"  {g.name:<60} {g.value:>8.2f}  <= {g.limit:<6g} {'met' if g.met else 'MISSED'}" for g in found]
    failed = [f"{r.scenario} {r.client}: {r.statuses}" for r in rounds if set(r.statuses) != {"succeeded"}]
    if failed:
        lines += ["", "jobs that did not succeed:", *(f"  {line}" for line in failed)]
    return "\n".join(lines)


def _dollars(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.2f}"


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=3, help="jobs side by side per round (default 3)")
    parser.add_argument("--type", help="meter this job type instead of the reference jobs")
    parser.add_argument("--input", help="its input: JSON, or @file with the JSON (default {})")
    parser.add_argument("--no-write", action="store_true", help="print the table only; leave latest.json alone")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.input is not None and args.type is None:
        parser.error("--input goes with --type")
    return args


def user_scenario(job_type: str, text: str | None) -> Scenario:
    if text and text.startswith("@"):
        text = Path(text[1:]).read_text()
    job_input = json.loads(text) if text else {}
    if not isinstance(job_input, dict):
        raise SystemExit("--input must be a JSON object")
    return Scenario(job_type, job_type, job_input)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scenarios = [user_scenario(args.type, args.input)] if args.type else reference_scenarios(args.jobs)
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    about_machine = machine()
    stack = LocalStack(
        LocalStackConfig(
            port=0,
            aws_port=0,
            tenants=[TenantSeed("bench", API_KEY, "whsec_" + "C" * 32)],
            meter=True,
            echo_function_output=False,
        )
    )
    stack.start()
    try:
        assert stack.meter is not None
        seed_stock(stack, 100_000)
        bench = Bench(stack, stack.meter, args.jobs)
        for scenario in scenarios:
            bench.run_scenario(scenario)
        fixed = list(stack.meter.reading().fixed)
    finally:
        if stack.runtime is not None:
            stack.runtime.stop()
        stack.stop()
    found = [] if args.type else goals(bench.rounds)
    print(table(bench.rounds, fixed, found, args.jobs))
    if not args.no_write:
        merge_results(
            RESULTS,
            RESULTS_KEY,
            {
                "measured_at": measured_at,
                "machine": about_machine,
                "jobs_per_round": args.jobs,
                "prices_as_of": PRICES_AS_OF,
                "rounds": [r.to_json() for r in bench.rounds],
                "fixed_per_month": [{"what": c.what, "dollars": c.dollars_per_month, "how": c.how} for c in fixed],
                "goals": [{"goal": g.name, "value": g.value, "limit": g.limit, "met": g.met} for g in found],
            },
        )
    all_succeeded = all(set(r.statuses) == {"succeeded"} for r in bench.rounds)
    return 0 if all_succeeded and all(g.met for g in found) else 1


if __name__ == "__main__":
    sys.exit(main())
