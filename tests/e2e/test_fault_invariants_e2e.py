"""Jobs of every type under injected faults keep jobgate's invariants (jobgate_cli/local/fault_check.py).

The functions' DynamoDB, Step Functions, SQS and S3 calls are throttled, fail, slow down,
time out or lose their answer after committing, and the task functions crash or hang until
their Timeout, at fault_check.FAULTS' rates. Each job has a webhook callback to a receiver
that answers, one that refuses each webhook once, or one that is down. The check itself
(every job terminal within its bound, one terminal event, contiguous sequences, every
webhook delivered or dead-lettered, stock conserved, no orphan result) is fault_check's,
shared with `make bench BENCH=faults`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobgate_cli.local import fault_check
from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import API_KEY, aws_clients, start_local_stack

JOBS_PER_TYPE = 4


@pytest.fixture(scope="module")
def fault_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults") / "injected.txt"


@pytest.fixture(scope="module")
def faulty_stack(fault_record: Path) -> Iterator[LocalStack]:
    stack = start_local_stack(**fault_check.stack_settings(), fault_record=fault_record)
    yield stack
    stack.stop()


def test_jobs_of_every_type_under_faults_keep_the_invariants(faulty_stack: LocalStack, fault_record: Path) -> None:
    report = fault_check.run(faulty_stack.api_url, API_KEY, aws_clients(faulty_stack), fault_record, JOBS_PER_TYPE)
    print(report.table())
    # The faults did happen, the nasty ones included.
    assert report.faults["dynamodb lost-answer"] > 0, report.faults
    assert report.faults["sfn timeout"] > 0, report.faults
    assert report.faults["lambda crash"] + report.faults["lambda timeout"] > 0, report.faults
    assert {job_type: sum(counts.values()) for job_type, counts in report.jobs.items()} == dict.fromkeys(
        fault_check.JOB_TYPES, JOBS_PER_TYPE
    )
    assert report.webhooks_delivered > 0
    assert report.webhooks_dead_lettered > 0
    assert report.violations == {name: [] for name in fault_check.INVARIANTS}
