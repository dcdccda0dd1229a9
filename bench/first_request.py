"""The first request after a cold start: one fresh interpreter, one `GET` of a stored item.

bench/cold_start.py runs this script once per round for the API (`GET /jobs/{id}` of a
queued job, with a tenant's API key) and for the bare handler (`GET /items/{id}`), and adds
its figure to the import's: the bare handler builds its DynamoDB client at import, the API
on its first request, so only the sum compares like with like.

moto answers AWS in this process (`mock_aws`, started before anything is timed). The API's
tenant and job are made by jobgate's own code in a child interpreter (`--seed`), which hands
back the tables' items; this process writes them as they are through a boto3 session of its
own. So the clients, caches, job types and pydantic validators (built on first use:
jobgate.lazy.LazyModel) that the handler builds on its first request are still unbuilt when
the request starts. Prints the request's wall and CPU seconds, then the modules it imported.

    python bench/first_request.py api|bare   # PYTHONPATH: the handler's CodeUri, the layer, cli/
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from jobgate_cli.local.lambda_worker import LambdaContext  # the local stack's, as Lambda passes it

REPO = Path(__file__).resolve().parents[1]
EVENT = REPO / "events" / "api_get_job.json"
TEMPLATE = REPO / "template.yaml"
# The resources' names, which only a stack gives (template.yaml's Globals: !Ref, !Sub).
RESOURCES = {
    "JOBS_TABLE_NAME": "bench-jobs",
    "TENANTS_TABLE_NAME": "bench-tenants",
    "ARTIFACTS_BUCKET_NAME": "bench-artifacts",
    "STATE_MACHINE_ARN_PREFIX": "arn:aws:states:us-east-1:123456789012:stateMachine:bench-job-",
    "WEBHOOK_RETRY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-retry",
    "WEBHOOK_DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-dead-letters",
}
BARE_TABLE = "items"  # bench/fixtures/bare_handler.py's


def get_event(path: str, api_key: str | None) -> dict[str, Any]:
    """An HTTP API (payload 2.0) GET of `path`: events/api_get_job.json without its long-poll."""
    event: dict[str, Any] = copy.deepcopy(json.loads(EVENT.read_text(encoding="utf-8")))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    event.pop("pathParameters", None)
    headers = {"accept": "application/json", "host": event["headers"]["host"]}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    event["headers"] = headers
    return event


# The API's tables: template logical id -> the variable naming the table.
API_TABLES = {"JobsTable": "JOBS_TABLE_NAME", "TenantsTable": "TENANTS_TABLE_NAME"}
Seed = tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]  # the GET's event, each table's items


def create_api_tables(session: boto3.session.Session) -> None:
    from jobgate_cli.provision import create_table_from_template
    from jobgate_cli.sam_template import load_template

    template = load_template(TEMPLATE)
    for logical_id, variable in API_TABLES.items():
        create_table_from_template(session.client("dynamodb"), template, logical_id, RESOURCES[variable])


def make_api_seed() -> Seed:
    """In the `--seed` child: one tenant and one queued job, written by jobgate's stores."""
    from jobgate.domain.models import Job
    from jobgate.ids import new_job_id
    from jobgate.store.jobs import JobStore
    from jobgate.store.tenants import TenantStore
    from jobgate.tenants import register_tenant

    session = boto3.session.Session()
    create_api_tables(session)
    dynamodb = session.client("dynamodb")
    tenant = register_tenant(TenantStore(dynamodb, RESOURCES["TENANTS_TABLE_NAME"]), "bench")
    now = datetime.now(UTC)
    job = Job(
        id=new_job_id(), tenant_id=tenant.tenant_id, type="demo", created_at=now, updated_at=now, retention_seconds=3600
    )
    JobStore(dynamodb, RESOURCES["JOBS_TABLE_NAME"]).create(job, None, now)
    items = {
        RESOURCES[variable]: dynamodb.scan(TableName=RESOURCES[variable], ConsistentRead=True)["Items"]
        for variable in API_TABLES.values()
    }
    return get_event(f"/jobs/{job.id}", tenant.api_key), items


def seed_api(session: boto3.session.Session) -> dict[str, Any]:
    """The template's tables with one tenant and one queued job: the GET of that job.

    jobgate's code makes them in a child interpreter, so that nothing it builds is built here.
    """
    with tempfile.TemporaryDirectory() as scratch:
        seed_file = Path(scratch) / "seed.pickle"  # not stdout, where the stores log
        command = [sys.executable, __file__, "--seed", str(seed_file)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise SystemExit(f"seeding failed:\n{done.stderr[-2000:]}")
        event, items = pickle.loads(seed_file.read_bytes())
    create_api_tables(session)
    dynamodb = session.client("dynamodb")
    for table, table_items in items.items():
        for item in table_items:
            dynamodb.put_item(TableName=table, Item=item)
    return dict(event)


def seed_bare(session: boto3.session.Session) -> dict[str, Any]:
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(
        TableName=BARE_TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=BARE_TABLE, Item={"id": {"S": "item-1"}, "name": {"S": "bench"}})
    return get_event("/items/item-1", None)


def main(target: str) -> int:
    os.environ.update(RESOURCES)
    with mock_aws():
        session = boto3.session.Session()  # not boto3's default session, which the handler uses
        event = seed_api(session) if target == "api" else seed_bare(session)
        module = __import__("jobgate_api.app" if target == "api" else "bare_handler", fromlist=["handler"])
        context = LambdaContext(
            function_name="bench",
            memory_limit_in_mb=512,
            invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench",
            aws_request_id="00000000-0000-0000-0000-000000000000",
            deadline=time.monotonic() + 29,
        )
        before = set(sys.modules)
        started, cpu = time.perf_counter(), time.process_time()
        answer = module.handler(event, context)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    if answer.get("statusCode") != 200:
        raise SystemExit(f"{target}: the first GET answered {answer.get('statusCode')}: {answer.get('body')}")
    print(seconds, cpu_seconds)
    print(" ".join(sorted(set(sys.modules) - before)))
    return 0


def seed_main(seed_file: Path) -> int:
    os.environ.update(RESOURCES)
    with mock_aws():
        seed = make_api_seed()
    seed_file.write_bytes(pickle.dumps(seed))
    return 0


if __name__ == "__main__":
    sys.exit(seed_main(Path(sys.argv[2])) if sys.argv[1] == "--seed" else main(sys.argv[1]))
