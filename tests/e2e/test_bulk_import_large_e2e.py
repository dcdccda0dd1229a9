"""bulk-import at volume: 20,000 rows (1 % bad) streamed through the presigned upload URL.

The same path at 200,000 rows is `make bench` (bench/bulk_import.py): in the local stack
DynamoDB is moto, where each 25-row BatchWriteItem costs about 13 ms, so 200,000 rows take
minutes, too long for `make test`. Flat memory is proven in
tests/integration/test_bulk_import_streaming.py (tracemalloc, chunk size doubled).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import TERMINAL, Client, aws_clients, start_local_stack
from tests.e2e.test_bulk_import_e2e import HEADER, bad_row, error_report_lines, good_row, result_of, submit


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    stack = start_local_stack(time_scale=0.1)
    yield stack
    stack.stop()


@pytest.fixture
def aws(local_stack: LocalStack) -> Callable[[str], Any]:
    return aws_clients(local_stack)


ROWS = 20_000


def test_20000_rows_best_effort_with_one_percent_bad_rows(client: Client, aws: Callable[[str], Any]) -> None:
    with tempfile.TemporaryFile() as csv_file:
        csv_file.write(HEADER.encode())
        bad_lines: list[int] = []
        for n in range(ROWS):
            bad = n % 100 == 99
            csv_file.write((bad_row(n, "big") if bad else good_row(n, "big")).encode())
            if bad:
                bad_lines.append(n + 2)
        csv_file.seek(0)
        created = client.request("POST", "/uploads").json()
        # A file object: requests streams it with its Content-Length, as S3 requires.
        assert requests.put(created["url"], data=csv_file, timeout=120).status_code == 200
    job = submit(client, {"upload": created["uploadId"], "chunkBytes": 256 * 1024})
    percents: list[int] = []

    def finished(seen: dict[str, Any]) -> bool:
        if seen["status"] == "running":
            percents.append(seen["progress"]["percent"])
        return seen["status"] in TERMINAL

    done = client.wait_for(job["id"], finished, timeout=600)
    assert done["status"] == "succeeded", done["error"]
    result = result_of(client, job["id"])
    assert (result["rowsTotal"], result["rowsLoaded"], result["rowsRejected"]) == (
        ROWS,
        ROWS - ROWS // 100,
        ROWS // 100,
    )
    assert [e["line"] for e in result["errors"]] == bad_lines
    report = error_report_lines(aws, result["errorReport"]["key"])
    assert [int(r["line"]) for r in report] == bad_lines
    assert {r["field"] for r in report} == {"country"}
    # Progress moved forward in steps as the bytes were processed, never back.
    assert percents == sorted(percents)
    assert len(set(percents)) >= 3
