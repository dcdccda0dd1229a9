"""bulk-import end to end: a CSV uploaded through POST /uploads, validated and loaded by a Map of chunks."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import OTHER_API_KEY, Client, aws_clients, eventually, start_local_stack

HEADER = "email,name,country,signupDate,lifetimeValue\n"
TABLE = "ImportedRecordsTable"
BUCKET = "local-artifactsbucket"


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    stack = start_local_stack(time_scale=0.1)
    yield stack
    stack.stop()


def good_row(n: int, tag: str) -> str:
    return f"{tag}-{n}@example.com,Customer {n},DE,2024-01-{1 + n % 28:02d},{n % 1000}.50\n"


def bad_row(n: int, tag: str) -> str:
    return f"{tag}-{n}@example.com,Customer {n},XX,2024-01-01,10\n"


def build_csv(rows: int, bad_every: int | None, tag: str) -> tuple[bytes, list[int]]:
    """The file and the line numbers (header = line 1) of its bad rows."""
    lines = [HEADER]
    bad_lines: list[int] = []
    for n in range(rows):
        if bad_every and n % bad_every == bad_every - 1:
            lines.append(bad_row(n, tag))
            bad_lines.append(n + 2)
        else:
            lines.append(good_row(n, tag))
    return "".join(lines).encode(), bad_lines


def upload(client: Client, body: bytes | Iterator[bytes]) -> str:
    created = client.request("POST", "/uploads")
    assert created.status_code == 201, created.text
    put = requests.put(created.json()["url"], data=body, timeout=60)
    assert put.status_code == 200, put.text
    upload_id: str = created.json()["uploadId"]
    return upload_id


def submit(client: Client, job_input: dict[str, Any]) -> dict[str, Any]:
    response = client.request("POST", "/jobs", json={"type": "bulk-import", "input": job_input})
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


def result_of(client: Client, job_id: str) -> dict[str, Any]:
    response = client.request("GET", f"/jobs/{job_id}/result")
    if response.status_code == 303:
        response = requests.get(response.headers["Location"], timeout=30)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def rows_loaded_by(aws: Callable[[str], Any], job_id: str) -> list[str]:
    paginator = aws("dynamodb").get_paginator("query")
    return [
        item["pk"]["S"]
        for page in paginator.paginate(
            TableName=TABLE,
            IndexName="records-by-import-job",
            KeyConditionExpression="importJobId = :j",
            ExpressionAttributeValues={":j": {"S": job_id}},
        )
        for item in page["Items"]
    ]


def error_report_lines(aws: Callable[[str], Any], key: str) -> list[dict[str, str]]:
    body = aws("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def aws(local_stack: LocalStack) -> Callable[[str], Any]:
    return aws_clients(local_stack)


def test_a_valid_file_loads_every_row(client: Client, aws: Callable[[str], Any]) -> None:
    body, _ = build_csv(40, None, "valid")
    job = submit(client, {"upload": upload(client, body), "chunkBytes": 512})
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "succeeded", done["error"]
    result = result_of(client, job["id"])
    assert (result["rowsTotal"], result["rowsLoaded"], result["rowsRejected"]) == (40, 40, 0)
    assert result["errors"] == []
    assert sorted(rows_loaded_by(aws, job["id"])) == sorted(f"acme#valid-{n}@example.com" for n in range(40))
    item = aws("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": "acme#valid-3@example.com"}})["Item"]
    assert item["country"]["S"] == "DE"
    assert Decimal(item["lifetimeValue"]["N"]) == Decimal("3.50")  # DynamoDB normalises 3.50 to 3.5
    assert [s["name"] for s in done["progress"]["steps"]] == ["load"]


def test_best_effort_loads_the_valid_rows_and_reports_each_bad_line(client: Client, aws: Callable[[str], Any]) -> None:
    body, bad_lines = build_csv(60, 7, "mixed")
    body += b"not-an-email,,ZZ,2024-13-01,-5\n" + b"only,three,fields\n"
    bad_lines += [62, 63]
    job = submit(client, {"upload": upload(client, body), "chunkBytes": 400, "mode": "best-effort"})
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "succeeded", done["error"]
    result = result_of(client, job["id"])
    assert result["rowsTotal"] == 62
    assert result["rowsRejected"] == len(bad_lines)
    assert result["rowsLoaded"] == 62 - len(bad_lines)
    assert sorted({e["line"] for e in result["errors"]}) == bad_lines
    line_62 = {e["field"]: e["message"] for e in result["errors"] if e["line"] == 62}
    assert set(line_62) == {"email", "name", "country", "signupDate", "lifetimeValue"}
    assert [e for e in result["errors"] if e["line"] == 63] == [
        {"line": 63, "field": "", "message": "expected 5 fields, found 3"}
    ]
    report = error_report_lines(aws, result["errorReport"]["key"])
    assert sorted({int(r["line"]) for r in report}) == bad_lines
    assert len(rows_loaded_by(aws, job["id"])) == 62 - len(bad_lines)


def test_all_or_nothing_with_one_bad_row_loads_nothing(client: Client, aws: Callable[[str], Any]) -> None:
    body, bad_lines = build_csv(50, 50, "strict")
    job = submit(client, {"upload": upload(client, body), "chunkBytes": 512, "mode": "all-or-nothing"})
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "failed"
    assert done["error"]["type"] == "ImportRejected"
    assert done["error"]["step"] == "validate"
    assert f"line {bad_lines[0]} country" in done["error"]["detail"]
    assert "1 of 50 rows are invalid, so nothing was loaded" in done["error"]["detail"]
    assert {s["name"]: s["status"] for s in done["progress"]["steps"]} == {"validate": "failed", "load": "pending"}
    assert rows_loaded_by(aws, job["id"]) == []
    assert aws("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": "acme#strict-0@example.com"}}).get("Item") is None
    report = error_report_lines(aws, f"results/acme/{job['id']}-errors.csv")
    assert [int(r["line"]) for r in report] == bad_lines


def test_all_or_nothing_with_valid_rows_validates_then_loads(client: Client, aws: Callable[[str], Any]) -> None:
    body, _ = build_csv(30, None, "strict-ok")
    job = submit(client, {"upload": upload(client, body), "chunkBytes": 512, "mode": "all-or-nothing"})
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert {s["name"]: s["status"] for s in done["progress"]["steps"]} == {"validate": "succeeded", "load": "succeeded"}
    assert result_of(client, job["id"])["rowsLoaded"] == 30
    assert len(rows_loaded_by(aws, job["id"])) == 30


def test_max_errors_stops_the_import_early(client: Client, aws: Callable[[str], Any]) -> None:
    # Every other row is bad: with maxErrors 3 the job fails long before the end of the file.
    body, _ = build_csv(600, 2, "many-bad")
    job = submit(client, {"upload": upload(client, body), "chunkBytes": 256, "maxErrors": 3})
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "failed"
    assert done["error"]["type"] == "TooManyErrors"
    assert "More than 3 rows are invalid (maxErrors = 3)" in done["error"]["detail"]
    # best-effort keeps what it loaded before stopping, which is far from all 300 valid rows.
    assert len(rows_loaded_by(aws, job["id"])) < 100


def test_max_errors_in_all_or_nothing_loads_nothing(client: Client, aws: Callable[[str], Any]) -> None:
    body, _ = build_csv(200, 2, "many-bad-strict")
    job = submit(client, {"upload": upload(client, body), "chunkBytes": 256, "maxErrors": 0, "mode": "all-or-nothing"})
    done = client.wait_until_terminal(job["id"])
    assert done["error"]["type"] == "TooManyErrors"
    assert rows_loaded_by(aws, job["id"]) == []


def test_an_upload_of_another_tenant_is_not_found(client: Client, local_stack: LocalStack) -> None:
    other = Client(local_stack.api_url, OTHER_API_KEY)
    body, _ = build_csv(5, None, "globex")
    theirs = upload(other, body)
    job = submit(client, {"upload": theirs})
    done = client.wait_until_terminal(job["id"])
    assert done["status"] == "failed"
    assert done["error"]["type"] == "UploadNotFound"
    assert theirs in done["error"]["detail"]


def test_an_upload_that_was_never_made_is_not_found(client: Client) -> None:
    created = client.request("POST", "/uploads").json()
    job = submit(client, {"upload": created["uploadId"]})
    done = client.wait_until_terminal(job["id"])
    assert (done["status"], done["error"]["type"], done["error"]["step"]) == ("failed", "UploadNotFound", "load")


def test_an_upload_path_in_the_input_is_refused(client: Client) -> None:
    response = client.request(
        "POST", "/jobs", json={"type": "bulk-import", "input": {"upload": "../globex/upl_01M8KAEMFENKRE7F7P4PKNANMY"}}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/input/upload"


def test_a_file_without_the_expected_header_fails_at_once(client: Client) -> None:
    job = submit(client, {"upload": upload(client, b"mail,name\nx@y.com,X\n")})
    done = client.wait_until_terminal(job["id"])
    assert done["error"]["type"] == "InvalidHeader"
    assert "email, name, country, signupDate, lifetimeValue" in done["error"]["detail"]


def test_all_or_nothing_removes_what_it_loaded_when_the_load_fails(client: Client, aws: Callable[[str], Any]) -> None:
    # The upload is replaced while rows are being loaded: the next chunk refuses to read a
    # different file (UploadChanged), and the rows already loaded are deleted.
    body, _ = build_csv(20_000, None, "replaced")
    created = client.request("POST", "/uploads").json()
    assert requests.put(created["url"], data=body, timeout=60).status_code == 200
    job = submit(client, {"upload": created["uploadId"], "chunkBytes": 16 * 1024, "mode": "all-or-nothing"})
    eventually(lambda: len(rows_loaded_by(aws, job["id"])), lambda loaded: loaded > 0, timeout=60)
    assert requests.put(created["url"], data=body + good_row(99_999, "late").encode(), timeout=60).status_code == 200
    done = client.wait_until_terminal(job["id"], timeout=60)
    assert done["status"] == "failed"
    assert done["error"]["type"] == "UploadChanged"
    steps = {s["name"]: s for s in done["progress"]["steps"]}
    assert steps["validate"]["status"] == "succeeded"
    assert steps["load"]["status"] == "compensated"
    assert steps["load"]["detail"]["rowsRemoved"] > 0
    assert rows_loaded_by(aws, job["id"]) == []


def test_cancelling_an_all_or_nothing_import_removes_what_it_loaded(client: Client, aws: Callable[[str], Any]) -> None:
    body, _ = build_csv(20_000, None, "cancelled")
    job = submit(client, {"upload": upload(client, body), "chunkBytes": 16 * 1024, "mode": "all-or-nothing"})
    eventually(lambda: len(rows_loaded_by(aws, job["id"])), lambda loaded: loaded > 0, timeout=60)
    assert client.request("DELETE", f"/jobs/{job['id']}").status_code == 202
    done = client.wait_until_terminal(job["id"], timeout=60)
    assert done["status"] == "cancelled"
    steps = {s["name"]: s for s in done["progress"]["steps"]}
    assert steps["load"]["status"] == "compensated"
    assert steps["load"]["detail"]["rowsRemoved"] > 0
    assert rows_loaded_by(aws, job["id"]) == []
