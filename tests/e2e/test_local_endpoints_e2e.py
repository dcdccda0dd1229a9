"""The local stack's DynamoDB is DynamoDB Local, reached through boto3's own endpoint settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from jobgate_cli.local.stack import LocalStack
from jobgate_cli.main import main
from tests.e2e.conftest import Client, eventually, start_local_stack


def tenants_table(stack: LocalStack) -> str:
    assert stack.template is not None
    return stack.template.physical_names["TenantsTable"]


def create_tenant(name: str, *options: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["tenants", "create", name, "--json", *options]) == 0
    api_key: str = json.loads(capsys.readouterr().out)["apiKey"]
    return api_key


def jobs_listed(stack: LocalStack, api_key: str) -> int:
    return requests.get(f"{stack.api_url}/jobs", headers={"Authorization": f"Bearer {api_key}"}, timeout=10).status_code


def test_the_jobs_table_lives_in_dynamodb_local(local_stack: LocalStack) -> None:
    table = local_stack.endpoints.client("dynamodb").describe_table(TableName="JobsTable")["Table"]

    assert table["LatestStreamArn"].startswith("arn:aws:dynamodb:ddblocal:")  # DynamoDB Local's own ARNs
    assert local_stack.dynamodb_pid is not None
    command_line = Path(f"/proc/{local_stack.dynamodb_pid}/cmdline").read_bytes().split(b"\0")
    assert any(part.endswith(b"DynamoDBLocal.jar") for part in command_line)


# Before the test that starts stacks of its own: moto's Lambda invokes go to the runtime of the
# stack started last in this process (moto_endpoint._runtime), a stopped one after that test.
def test_the_local_metrics_page_sums_the_functions_emf_lines(local_stack: LocalStack, client: Client) -> None:
    job_input = {"steps": 1, "stepSeconds": 0}
    job_id = client.submit(job_input)["id"]
    job = client.wait_until_terminal(job_id)
    assert job["status"] == "succeeded", job

    def demo_count(name: str) -> float:
        page = requests.get(f"{local_stack.api_url}/_local/metrics", timeout=10)
        assert page.status_code == 200
        return sum(
            float(metric["sum"])
            for metric in page.json()["metrics"]
            if metric["name"] == name and metric["dimensions"] == {"JobType": "demo", "service": "jobgate"}
        )

    # Each function's output reaches the stack on the relay's thread: the page may lag a moment.
    eventually(lambda: demo_count("JobsSucceeded"), lambda succeeded: succeeded >= 1)
    assert demo_count("JobsSubmitted") >= 1
    assert "JobsSucceeded{demo}=" in local_stack.metrics.summary_line()


def test_tenants_created_with_endpoint_url_can_call_the_api(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tenants_table(local_stack)
    api_key = create_tenant(
        "initech", "--table", table, "--endpoint-url", local_stack.dynamodb_url, "--region", "us-east-1", capsys=capsys
    )

    assert jobs_listed(local_stack, api_key) == 200


def test_tenants_created_with_boto3s_endpoint_variable_can_call_the_api(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", local_stack.dynamodb_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    api_key = create_tenant("hooli", "--table", tenants_table(local_stack), capsys=capsys)

    assert jobs_listed(local_stack, api_key) == 200


def test_every_start_is_a_fresh_account_and_stop_ends_dynamodb_local() -> None:
    first = start_local_stack()
    try:
        first.endpoints.client("dynamodb").put_item(
            TableName=tenants_table(first), Item={"pk": {"S": "left-behind"}, "tenantId": {"S": "x"}}
        )
        pid = first.dynamodb_pid
    finally:
        first.stop()
    assert pid is not None
    assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)

    second = start_local_stack()
    try:
        item = second.endpoints.client("dynamodb").get_item(
            TableName=tenants_table(second), Key={"pk": {"S": "left-behind"}}
        )
        assert "Item" not in item
    finally:
        second.stop()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
