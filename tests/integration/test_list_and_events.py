"""GET /jobs (tenant-scoped, filters, cursor pagination) and GET /jobs/{id}/events."""

from __future__ import annotations

import pytest

from jobgate.tenants import TenantCredentials
from tests.api import ApiClient
from tests.workflow import lifecycle, run_to_success


@pytest.fixture
def client(tenant: TenantCredentials) -> ApiClient:
    return ApiClient(tenant.api_key)


def test_jobs_list_newest_first_and_only_the_callers(client: ApiClient, other_tenant: TenantCredentials) -> None:
    mine = [client.submit().json["id"] for _ in range(3)]
    ApiClient(other_tenant.api_key).submit()
    listed = client.get("/jobs").json
    assert [j["id"] for j in listed["items"]] == list(reversed(mine))
    assert listed["next"] is None


def test_pages_follow_the_cursor_without_gaps_or_repeats(client: ApiClient) -> None:
    submitted = [client.submit().json["id"] for _ in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = client.get("/jobs", query=query).json
        seen += [j["id"] for j in page["items"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == list(reversed(submitted))
    assert pages == 3


def test_status_and_type_filters(client: ApiClient) -> None:
    first, second = client.submit().json["id"], client.submit().json["id"]
    lifecycle("start", first)
    running = client.get("/jobs", query={"status": "running"}).json["items"]
    queued_demo = client.get("/jobs", query={"status": "queued", "type": "demo"}).json["items"]
    other_type = client.get("/jobs", query={"type": "bulk-import"}).json["items"]
    assert [j["id"] for j in running] == [first]
    assert [j["id"] for j in queued_demo] == [second]
    assert other_type == []


def test_filters_fill_pages_across_non_matching_jobs(client: ApiClient) -> None:
    wanted = client.submit().json["id"]
    lifecycle("start", wanted)
    for _ in range(5):
        client.submit()
    page = client.get("/jobs", query={"status": "running", "limit": "1"}).json
    assert [j["id"] for j in page["items"]] == [wanted]


@pytest.mark.parametrize(
    "query",
    [{"limit": "0"}, {"limit": "101"}, {"limit": "many"}, {"status": "sleeping"}, {"cursor": "not-a-cursor"}],
)
def test_bad_query_parameters_are_400(client: ApiClient, query: dict[str, str]) -> None:
    response = client.get("/jobs", query=query)
    assert response.status == 400
    assert response.header("Content-Type") == "application/problem+json"
    assert response.json["errors"]


def test_a_cursor_cannot_reach_another_tenants_jobs(client: ApiClient, other_tenant: TenantCredentials) -> None:
    for _ in range(3):
        client.submit()
    cursor = client.get("/jobs", query={"limit": "1"}).json["next"]
    theirs = ApiClient(other_tenant.api_key).get("/jobs", query={"cursor": cursor}).json
    assert theirs["items"] == []


def test_events_are_the_timeline_in_sequence(client: ApiClient) -> None:
    job = client.submit({"steps": 2, "stepSeconds": 0}).json
    run_to_success(job["id"], {"steps": 2, "stepSeconds": 0})
    events = client.get(f"/jobs/{job['id']}/events").json
    assert [e["sequence"] for e in events["items"]] == [1, 2, 3, 4, 5, 6]
    assert [e["type"] for e in events["items"]] == [
        "job.started",
        "job.step",
        "job.step",
        "job.step",
        "job.step",
        "job.succeeded",
    ]
    assert events["items"][-1]["data"]["job"]["status"] == "succeeded"
    assert events["next"] is None


def test_events_page_with_after(client: ApiClient) -> None:
    job = client.submit({"steps": 2, "stepSeconds": 0}).json
    run_to_success(job["id"], {"steps": 2, "stepSeconds": 0})
    first = client.get(f"/jobs/{job['id']}/events", query={"limit": "4"}).json
    rest = client.get(f"/jobs/{job['id']}/events", query={"after": first["next"]}).json
    assert first["next"] == "4"
    assert [e["sequence"] for e in rest["items"]] == [5, 6]


def test_another_tenants_events_are_404(client: ApiClient, other_tenant: TenantCredentials) -> None:
    job_id = client.submit().json["id"]
    assert ApiClient(other_tenant.api_key).get(f"/jobs/{job_id}/events").status == 404
