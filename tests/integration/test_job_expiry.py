"""A job that DynamoDB's TTL removes takes its objects in the artifacts bucket with it."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

import job_expiry
from jobgate.store import keys
from jobgate.tenants import TenantCredentials
from tests.api import ApiClient
from tests.conftest import BUCKET, JOBS_TABLE, LambdaContext, load_event
from tests.workflow import run_to_success

LARGE = {"steps": 1, "stepSeconds": 0, "resultBytes": 100_000}
SAMPLE: dict[str, Any] = load_event("job_expiry_ttl_remove.json")["Records"][0]


@pytest.fixture
def client(tenant: TenantCredentials) -> ApiClient:
    return ApiClient(tenant.api_key)


def finished_job_with_a_large_result(client: ApiClient) -> str:
    job_id: str = client.submit(LARGE).json["id"]
    run_to_success(job_id, LARGE)
    return job_id


def objects_of(job_id: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="results/")
    return [o["Key"] for o in listed.get("Contents", []) if job_id in o["Key"]]


def ttl_remove_record(job_id: str) -> dict[str, Any]:
    """The stream's record of DynamoDB's TTL deleting the job item, with the item as it was."""
    item = boto3.client("dynamodb").get_item(TableName=JOBS_TABLE, Key=keys.job_key(job_id))["Item"]
    record = copy.deepcopy(SAMPLE)
    record["dynamodb"]["Keys"] = keys.job_key(job_id)
    record["dynamodb"]["OldImage"] = json.loads(json.dumps(item))
    record["dynamodb"]["SequenceNumber"] = f"{job_id}-removed"
    return record


def test_an_expired_jobs_result_object_is_deleted_and_no_other_jobs(client: ApiClient) -> None:
    expired, kept = finished_job_with_a_large_result(client), finished_job_with_a_large_result(client)
    assert len(objects_of(expired)) == len(objects_of(kept)) == 1

    response = job_expiry.handler({"Records": [ttl_remove_record(expired)]}, LambdaContext())  # type: ignore[arg-type]

    assert response == {"batchItemFailures": []}
    assert objects_of(expired) == []
    assert len(objects_of(kept)) == 1


def test_every_object_under_the_jobs_prefix_goes_with_it(client: ApiClient) -> None:
    job_id = finished_job_with_a_large_result(client)
    (result_key,) = objects_of(job_id)
    job_prefix = result_key[: result_key.index(job_id) + len(job_id)]
    # An orphan of a complete that crashed after uploading, and a file of the job type's own.
    for suffix in (".01orphaned.json", "-errors.csv"):
        boto3.client("s3").put_object(Bucket=BUCKET, Key=job_prefix + suffix, Body=b"x")
    assert len(objects_of(job_id)) == 3

    job_expiry.handler({"Records": [ttl_remove_record(job_id)]}, LambdaContext())  # type: ignore[arg-type]

    assert objects_of(job_id) == []
