"""docs/api.md: DELETE of a finished job purges it once; every other DELETE, even a concurrent one, is 404."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from jobgate import aws, wiring
from jobgate.domain.errors import JobNotFound
from jobgate.domain.models import Job
from jobgate.store.jobs import JobStore
from jobgate.tenants import TenantCredentials
from tests.api import ApiClient
from tests.faults import commit_then_time_out
from tests.workflow import run_to_success

QUICK = {"steps": 1, "stepSeconds": 0}
RACERS = 10


def finished_job(tenant: TenantCredentials) -> str:
    job_id: str = ApiClient(tenant.api_key).submit(QUICK).json["id"]
    run_to_success(job_id, QUICK)
    return job_id


def test_concurrent_deletes_of_a_finished_job_purge_it_exactly_once(
    tenant: TenantCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = finished_job(tenant)
    # Force the race: every DELETE has read the finished job before any of them goes on.
    all_have_read = threading.Barrier(RACERS, timeout=30)
    real_get = JobStore.get

    def get_then_wait(store: JobStore, wanted: str, *, consistent: bool = True) -> Job | None:
        job = real_get(store, wanted, consistent=consistent)
        all_have_read.wait()
        return job

    service = wiring.job_service()

    def delete() -> str:
        try:
            service.cancel_or_purge(tenant.tenant_id, job_id)
        except JobNotFound:
            return "404"
        return "204"

    with monkeypatch.context() as patch, ThreadPoolExecutor(RACERS) as pool:
        patch.setattr(JobStore, "get", get_then_wait)
        answers = sorted(pool.map(lambda _: delete(), range(RACERS)))
    assert answers == ["204"] + ["404"] * (RACERS - 1)
    assert ApiClient(tenant.api_key).get(f"/jobs/{job_id}").status == 404


def test_a_delete_whose_committed_claim_timed_out_is_still_204(tenant: TenantCredentials) -> None:
    job_id = finished_job(tenant)
    client = ApiClient(tenant.api_key)
    with commit_then_time_out(aws.dynamodb(), "UpdateItem") as cut_off:
        response = client.delete(f"/jobs/{job_id}")
    assert cut_off == [1]
    assert response.status == 204
    assert client.delete(f"/jobs/{job_id}").status == 404
