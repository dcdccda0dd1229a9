"""Jobs of every type under injected faults, and the invariants jobgate keeps through them.

One run submits jobs of each type (demo, order-fulfillment, bulk-import, background-check),
each with a webhook callback, against a local stack started with `FAULTS` (JOBGATE_FAULTS:
AWS throttles, 500s, latency, timeouts and lost answers, and crashed and hung task
functions). A client retries a 503 with the same Idempotency-Key, as docs/api.md says.
Then, for every job:

- `accepted`: its submit (and a bulk import's upload) ends in 202 (201), never a 5xx;
- `terminal`: it ends (succeeded, failed or cancelled) within JOB_BOUND_SECONDS;
- `one-terminal-event`: exactly one terminal event, the one of its status;
- `contiguous-sequences`: its event sequences are 1..n;
- `webhooks`: each event its callback wants reached the receiver (de-duplicated by
  `webhook-id`) or has a `failed` delivery and its webhook id in the dead-letter queue;
- `stock-conserved`: order stock ends at what was there less what succeeded orders took;
- `no-orphan-results`: no result object in the artifacts bucket without its job.

tests/e2e/test_fault_invariants_e2e.py runs a small one inside `make test`; bench/faults.py
(`make bench BENCH=faults`) a larger one, with the same faults and the same checks.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol

import requests

from jobgate.ids import JOB_ID_PATTERN
from jobgate.jobtypes.order_fulfillment.store import StockStore
from jobgate.store.artifacts import RESULTS_PREFIX
from jobgate.webhooks.subscriptions import wants
from jobgate_cli.listen import ReceiverServer
from jobgate_cli.local.serving import serve_in_background

JOB_TYPES = ("demo", "order-fulfillment", "bulk-import", "background-check")
TERMINAL = ("succeeded", "failed", "cancelled")
INVARIANTS = (
    "accepted",
    "terminal",
    "one-terminal-event",
    "contiguous-sequences",
    "webhooks",
    "stock-conserved",
    "no-orphan-results",
)
# The task functions (the stack names them local-<name>): each may crash; those with the
# template's 30 s Timeout may also hang until it (bulk-import's have 120-900 s: too long to wait).
TASK_FUNCTIONS = (
    "job-lifecycle",
    "demo-step",
    "order-stock",
    "order-partners",
    "start-vendor-check",
    "background-check-step",
    "bulk-import-plan",
    "bulk-import-chunk",
    "bulk-import-finish",
)
HANGING_FUNCTIONS = TASK_FUNCTIONS[:6]
# High enough that botocore's 3 attempts do not always absorb them: some submits answer 503,
# some starts are lost for good (the sweeper's work), some writes commit unanswered.
FAULTS = ",".join(
    [
        "dynamodb:throttle=0.1",
        "dynamodb.TransactWriteItems:lost-answer=0.15",
        # Most changes are a job write and an event write, not a transaction (store/jobs.py).
        "dynamodb.PutItem:lost-answer=0.1",
        "dynamodb:timeout=0.02",
        "sfn:throttle=0.05",
        "sfn.StartExecution:timeout=0.6",
        "sqs:throttle=0.1",
        "s3:error=0.1",
        "*:latency=0.02",
        *(f"lambda.local-{name}:crash=0.03" for name in TASK_FUNCTIONS),
        *(f"lambda.local-{name}:timeout=0.03" for name in HANGING_FUNCTIONS),
    ]
)
# 0.1: the sweeper runs every 6 s, looks at jobs idle 6 s, fails a job unstarted after 60 s.
TIME_SCALE = 0.1
# Two webhook retries (scaled with the rest), so a dead receiver's events reach the dead-letter
# queue in seconds; vendors that do not answer in 3 s are inconclusive.
PARAMETER_OVERRIDES = {"WebhookRetrySchedule": "1,1", "VendorCheckTimeoutSeconds": "3"}
# Each job's bound: its start bound (60 s) and its steps, a hung task (30 s) or two included.
JOB_BOUND_SECONDS = 180
# After the last job ended: time for its last events' deliveries, retries and dead-letters. A
# retry whose attempt failed to be recorded (a throttled write) comes back only after the retry
# queue's VisibilityTimeout (template.yaml: 360 s): what the queue still holds then is counted
# as still retrying; the bench waits that long (`settle_seconds`).
WEBHOOK_SETTLE_SECONDS = 30
# How long the client keeps trying one request that answers 503 or nothing.
REQUEST_PATIENCE_SECONDS = 60
ORDER_QUANTITY = 2
ARTIFACTS_BUCKET = "local-artifactsbucket"
DEAD_LETTER_QUEUE = "WebhookDeadLetterQueue"
RETRY_QUEUE = "WebhookRetryQueue"
# Receiver paths: one answers every webhook, one is down for good, one refuses each webhook once.
HEALTHY, DOWN, FLAKY = "/healthy", "/down", "/flaky"

JOB_ID_AT_START = re.compile(JOB_ID_PATTERN.pattern.strip("^$"))

Json = dict[str, Any]
AwsClients = Callable[[str], Any]


def stack_settings() -> dict[str, Any]:
    """What a LocalStackConfig needs for the check (besides ports, tenants and the fault record)."""
    return {"time_scale": TIME_SCALE, "faults": FAULTS, "parameter_overrides": dict(PARAMETER_OVERRIDES)}


@dataclass
class Report:
    """What one run found: jobs per type and status, faults injected per kind, violations per invariant."""

    jobs: dict[str, Counter[str]] = field(default_factory=lambda: {t: Counter() for t in JOB_TYPES})
    faults: Counter[str] = field(default_factory=Counter)
    # Why failed jobs failed: "<job type>: <error type>" (an out-of-stock order, a crashed task, ...).
    failures: Counter[str] = field(default_factory=Counter)
    violations: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in INVARIANTS})
    webhooks_delivered: int = 0
    webhooks_dead_lettered: int = 0
    webhooks_retrying: int = 0  # neither yet, but no more than the retry queue still holds

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def as_json(self) -> Json:
        return {
            "jobs": {t: dict(counts) for t, counts in self.jobs.items()},
            "faults_injected": dict(sorted(self.faults.items())),
            "failures": dict(sorted(self.failures.items())),
            "webhooks": {
                "delivered": self.webhooks_delivered,
                "dead_lettered": self.webhooks_dead_lettered,
                "still_retrying": self.webhooks_retrying,
            },
            "violations": {name: len(found) for name, found in self.violations.items()},
            "violation_examples": {name: found[:5] for name, found in self.violations.items() if found},
        }

    def table(self) -> str:
        lines = [f"{'job type':<20}" + "".join(f"{s:>11}" for s in (*TERMINAL, "unfinished"))]
        for job_type, counts in self.jobs.items():
            lines.append(f"{job_type:<20}" + "".join(f"{counts[s]:>11}" for s in (*TERMINAL, "unfinished")))
        lines += ["", f"{'fault injected':<34}{'count':>8}"]
        lines += [f"{kind:<34}{count:>8}" for kind, count in sorted(self.faults.items())]
        lines += ["", f"{'why failed jobs failed':<54}{'jobs':>6}"]
        lines += [f"{reason:<54}{count:>6}" for reason, count in sorted(self.failures.items())]
        lines += [
            "",
            f"webhooks delivered {self.webhooks_delivered}, dead-lettered {self.webhooks_dead_lettered}, "
            f"still in the retry queue {self.webhooks_retrying}",
        ]
        lines += ["", f"{'invariant':<34}{'violations':>11}"]
        lines += [f"{name:<34}{len(found):>11}" for name, found in self.violations.items()]
        return "\n".join(lines)


def injected_faults(record: Path) -> Counter[str]:
    """The fault record (faults.py) counted per kind: `dynamodb throttle`, `lambda crash`, ..."""
    lines = record.read_text().splitlines() if record.exists() else []
    return Counter(f"{target.split('.')[0]} {kind}" for target, _, kind in (line.partition(" ") for line in lines))


# ---------------------------------------------------------------- the webhook receiver


class WebhookReceiver:
    """Takes webhooks on 127.0.0.1 at HEALTHY, DOWN (500, always) and FLAKY (503 at a webhook's first try)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._delivered: set[str] = set()  # webhook ids answered 2xx
        self._tried: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.answer(self.path, self.headers.get("webhook-id", ""))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's naming
                return

        self._server = ReceiverServer(("127.0.0.1", 0), Handler)
        self._thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def answer(self, path: str, webhook_id: str) -> int:
        with self._lock:
            first_try = webhook_id not in self._tried
            self._tried.add(webhook_id)
            if path == DOWN or (path == FLAKY and first_try):
                return 500 if path == DOWN else 503
            self._delivered.add(webhook_id)
            return 204

    def delivered(self) -> set[str]:
        with self._lock:
            return set(self._delivered)

    def start(self) -> None:
        self._thread = serve_in_background(self._server, "fault-check-webhooks")

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for a serve_forever that never began otherwise
            self._server.shutdown()
        self._server.server_close()


@contextmanager
def receiving() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


# ---------------------------------------------------------------- a client that honours 503


class Api(Protocol):
    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response: ...


class PatientClient:
    """The API's client: a 503 (or no answer) is tried again after its Retry-After (at most 1 s here), for a while.

    A submit carries an Idempotency-Key, so trying it again never makes a second job.
    """

    def __init__(self, api_url: str, api_key: str, patience_seconds: float = REQUEST_PATIENCE_SECONDS) -> None:
        self._api_url = api_url
        self._patience = patience_seconds
        self._local = threading.local()
        self._api_key = api_key

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False  # no proxy from the environment: everything goes to 127.0.0.1
            session.headers["Authorization"] = f"Bearer {self._api_key}"
        deadline = time.monotonic() + self._patience
        while True:
            try:
                response = session.request(method, self._api_url + path, timeout=30, allow_redirects=False, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                # No answer (a starved machine): try again, as with a 503; every write here is idempotent.
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
                continue
            if response.status_code != 503 or time.monotonic() > deadline:
                return response
            time.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0))


# ---------------------------------------------------------------- the jobs


def order_input(sku: str, quantity: int = ORDER_QUANTITY) -> Json:
    """A reference order of one line (the fault check's, and `make bench BENCH=cost`'s)."""
    return {
        "items": [{"sku": sku, "quantity": quantity}],
        "payment": {"cardToken": "tok_visa", "amount": 2500, "currency": "EUR"},
        "shipping": {
            "name": "Ada Lovelace",
            "address": "12 rue Oberkampf, Paris",
            "postcode": "75011",
            "country": "FR",
        },
    }


def import_file(tag: str, rows: int = 12) -> bytes:
    """A small customer CSV with one bad row (an unknown country), for a best-effort import."""
    lines = ["email,name,country,signupDate,lifetimeValue"]
    lines += [
        f"{tag}-{n}@example.com,Customer {n},{'XX' if n == 3 else 'DE'},2024-01-0{1 + n % 9},{n}.50"
        for n in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def upload(client: PatientClient, body: bytes) -> str:
    created = client.request("POST", "/uploads")
    if created.status_code != 201:
        raise RuntimeError(f"POST /uploads answered {created.status_code}: {created.text}")
    put = requests.put(created.json()["url"], data=body, timeout=30)
    put.raise_for_status()
    upload_id: str = created.json()["uploadId"]
    return upload_id


def job_input(client: PatientClient, job_type: str, sku: str) -> Json:
    if job_type == "demo":
        return {"steps": 2, "stepSeconds": 0}
    if job_type == "order-fulfillment":
        return order_input(sku)
    if job_type == "bulk-import":
        return {"upload": upload(client, import_file(uuid.uuid4().hex[:8])), "chunkBytes": 256, "mode": "best-effort"}
    return {"candidate": {"fullName": "Ada Lovelace", "dateOfBirth": "1990-04-01", "email": "ada@example.com"}}


@dataclass
class SubmittedJob:
    job_type: str
    job_id: str
    callback_path: str
    submitted_at: float
    final: Json | None = None


def submit(client: PatientClient, job_type: str, sku: str, callback_url: str, path: str) -> SubmittedJob:
    body = {"type": job_type, "input": job_input(client, job_type, sku), "callback": {"url": callback_url}}
    response = client.request("POST", "/jobs", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    if response.status_code != 202:
        raise RuntimeError(f"POST /jobs ({job_type}) answered {response.status_code}: {response.text}")
    return SubmittedJob(job_type, response.json()["id"], path, submitted_at=time.monotonic())


def submit_or_report(
    report: Report, client: PatientClient, receiver: WebhookReceiver, job_type: str, sku: str, path: str
) -> SubmittedJob | None:
    try:
        return submit(client, job_type, sku, receiver.url(path), path)
    except (RuntimeError, requests.RequestException) as error:
        report.violations["accepted"].append(f"{job_type}: {error}")
        return None


def until_terminal(client: PatientClient, job: SubmittedJob) -> None:
    while time.monotonic() < job.submitted_at + JOB_BOUND_SECONDS:
        response = client.request("GET", f"/jobs/{job.job_id}")
        if response.status_code == 200 and response.json()["status"] in TERMINAL:
            job.final = response.json()
            return
        time.sleep(0.5)


def events_of(client: PatientClient, job_id: str) -> list[Json]:
    items: list[Json] = []
    after: str | None = None
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        page = client.request("GET", f"/jobs/{job_id}/events", params=params).json()
        items += page["items"]
        after = page.get("next")
        if not after:
            return items


def failed_deliveries(client: Api, job_id: str) -> set[str]:
    attempts = client.request("GET", f"/jobs/{job_id}/deliveries", params={"limit": 100}).json()["items"]
    return {a["webhookId"] for a in attempts if a["outcome"] == "failed"}


def dead_lettered(aws: AwsClients) -> set[str]:
    """Every webhook id in the dead-letter queue (messages stay hidden for the rest of the run)."""
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
    found: set[str] = set()
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=3600).get("Messages", [])
        if not messages:
            return found
        found.update(json.loads(message["Body"])["webhookId"] for message in messages)


def in_retry_queue(aws: AwsClients) -> int:
    """Messages the webhook retry queue holds: waiting, delayed or being handled (invisible)."""
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName=RETRY_QUEUE)["QueueUrl"]
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


# ---------------------------------------------------------------- the run


def run(
    api_url: str,
    api_key: str,
    aws: AwsClients,
    record: Path,
    jobs_per_type: int,
    *,
    threads: int = 8,
    settle_seconds: float = WEBHOOK_SETTLE_SECONDS,
) -> Report:
    """Submit `jobs_per_type` jobs of each type, wait for them, and check every invariant."""
    report = Report()
    client = PatientClient(api_url, api_key)
    stock = StockStore(aws("dynamodb"), "StockTable")
    sku = f"sku-{uuid.uuid4().hex[:8]}"
    # Enough for about half the orders: the others run out of stock and roll back.
    initial_stock = ORDER_QUANTITY * (jobs_per_type // 2 + 1)
    stock.set_available(sku, initial_stock)
    paths = (HEALTHY, HEALTHY, FLAKY, DOWN)
    plan = [(t, sku, paths[n % len(paths)]) for n in range(jobs_per_type) for t in JOB_TYPES]
    with receiving() as receiver, ThreadPoolExecutor(threads) as pool:
        submitted = pool.map(lambda spec: submit_or_report(report, client, receiver, *spec), plan)
        jobs = [job for job in submitted if job is not None]
        list(pool.map(lambda job: until_terminal(client, job), jobs))
        for job in jobs:
            status = job.final["status"] if job.final else "unfinished"
            report.jobs[job.job_type][status] += 1
            if job.final and job.final["status"] == "failed":
                report.failures[f"{job.job_type}: {(job.final.get('error') or {}).get('type')}"] += 1
            if job.final is None:
                report.violations["terminal"].append(f"{job.job_type} {job.job_id} not finished after its bound")
        timelines = dict(
            zip((j.job_id for j in jobs), pool.map(lambda j: events_of(client, j.job_id), jobs), strict=True)
        )
        for job in jobs:
            check_events(report, job, timelines[job.job_id])
        check_webhooks(report, client, aws, receiver, jobs, timelines, settle_seconds)
    sold = sum(
        1 for job in jobs if job.job_type == "order-fulfillment" and job.final and job.final["status"] == "succeeded"
    )
    left = stock.available(sku)
    if left != initial_stock - ORDER_QUANTITY * sold:
        report.violations["stock-conserved"].append(f"{sku}: {left} left of {initial_stock}, {sold} orders sold")
    check_results(report, client, aws)
    report.faults = injected_faults(record)
    return report


def check_events(report: Report, job: SubmittedJob, timeline: list[Json]) -> None:
    sequences = [event["sequence"] for event in timeline]
    if sequences != list(range(1, len(timeline) + 1)):
        report.violations["contiguous-sequences"].append(f"{job.job_id}: {sequences}")
    ends = [event["type"] for event in timeline if event["type"] in {f"job.{s}" for s in TERMINAL}]
    expected = [f"job.{job.final['status']}"] if job.final else []
    if ends != expected:
        report.violations["one-terminal-event"].append(f"{job.job_id}: {ends}, status {expected}")


def check_webhooks(
    report: Report,
    client: Api,
    aws: AwsClients,
    receiver: WebhookReceiver,
    jobs: list[SubmittedJob],
    timelines: dict[str, list[Json]],
    settle_seconds: float,
) -> None:
    """Wait until each wanted event is delivered or dead-lettered; what is neither by then, and more
    than the retry queue still holds, is a violation."""
    wanted = {
        f"{job.job_id}.{event['sequence']}": job
        for job in jobs
        for event in timelines[job.job_id]
        if wants({"url": job.callback_path}, event["type"])
    }
    deadline = time.monotonic() + settle_seconds
    dead: set[str] = set()
    while True:
        dead |= dead_lettered(aws)
        delivered = receiver.delivered()
        pending = wanted.keys() - delivered - dead
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)
    failed: set[str] = set()
    for job_id in {wanted[webhook_id].job_id for webhook_id in pending | (dead & wanted.keys())}:
        failed |= failed_deliveries(client, job_id)
    retrying = in_retry_queue(aws) if pending else 0
    if len(pending) <= retrying:
        report.webhooks_retrying = len(pending)
    else:
        for webhook_id in sorted(pending):
            report.violations["webhooks"].append(
                f"{webhook_id} ({wanted[webhook_id].callback_path}): neither delivered nor dead-lettered, "
                f"{retrying} messages in the retry queue for {len(pending)} such events"
            )
    for webhook_id in sorted((dead & wanted.keys()) - failed - delivered):
        report.violations["webhooks"].append(f"{webhook_id}: dead-lettered without a failed delivery")
    report.webhooks_delivered = len(delivered & wanted.keys())
    report.webhooks_dead_lettered = len((dead & wanted.keys()) - delivered)


def check_results(report: Report, client: PatientClient, aws: AwsClients) -> None:
    listed = aws("s3").list_objects_v2(Bucket=ARTIFACTS_BUCKET, Prefix=RESULTS_PREFIX).get("Contents", [])
    for stored in listed:
        # results/<tenant>/<job id><suffix> (store/artifacts.py): a result, or a job type's file.
        named = JOB_ID_AT_START.match(stored["Key"].removeprefix(RESULTS_PREFIX).partition("/")[2])
        if named is None or client.request("GET", f"/jobs/{named.group()}").status_code != 200:
            report.violations["no-orphan-results"].append(stored["Key"])
