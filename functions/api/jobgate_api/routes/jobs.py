"""Routes of the job resource: submit, read, list, timeline, result, cancel/purge."""

from __future__ import annotations

import re
import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from jobgate.domain.models import Callback, Job, JobResource
from jobgate.domain.polling import retry_after_seconds
from jobgate.domain.status import JobStatus
from jobgate.observability import about_job
from jobgate.service import SubmitRequest
from jobgate.timeutil import utc_now
from jobgate_api.context import job_service, request_header, tenant_id
from jobgate_api.problems import MalformedHeader
from jobgate_api.schemas import (
    AUTHENTICATED,
    ON_A_JOB,
    WITH_A_BODY,
    EventList,
    JobList,
    RequestHeaders,
    SubmitJobRequest,
    empty_response,
    header_parameter,
    json_response,
    problem_responses,
)

router = Router()

JSON = "application/json"
MAX_WAIT_SECONDS = 20
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
PREFER_WAIT_PATTERN = re.compile(r"(?:^|[,;\s])wait\s*=\s*([^,;\s]*)", re.IGNORECASE)
WAIT_SECONDS_PATTERN = re.compile(r"^[0-9]{1,9}$")
# RFC 9110 8.8.3: `*` or a list of entity tags, each optionally weak (W/); ASCII only.
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e]*"'
IF_NONE_MATCH_PATTERN = re.compile(rf"^\s*(?:\*|{_ENTITY_TAG}(?:\s*,\s*{_ENTITY_TAG})*)\s*$")
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
REQUEST_HEADERS: RequestHeaders = {
    ("post", "/jobs"): [
        header_parameter(
            "Idempotency-Key",
            "A repeat with the same key and body answers the first job.",
            IDEMPOTENCY_KEY_PATTERN.pattern,
        )
    ],
    ("get", "/jobs/{id}"): [
        header_parameter("If-None-Match", "ETags: 304 when one matches.", IF_NONE_MATCH_PATTERN.pattern),
        header_parameter("Prefer", "`wait=N`: hold up to N (at most 20) seconds for a change.", r"^wait=[0-9]{1,9}$"),
    ],
}
JobId = Annotated[str, Path(description="The job id, `job_` + a ULID.")]
# OpenAPI links from a submitted job to what a client does next (operation ids are Powertools').
JOB_LINKS = {
    "GetJob": "getJob",
    "ListEvents": "listEvents",
    "GetResult": "getResult",
    "ListDeliveries": "listDeliveries",
    "DeleteJob": "deleteJob",
}
JOB_HEADERS = {
    "ETag": "The job's version; send it as If-None-Match.",
    "Cache-Control": "`private, no-cache`.",
    "Retry-After": "Seconds to wait before polling again; only while the job is not terminal.",
}


def _job_response(status: int, job: Job, extra_headers: dict[str, str] | None = None) -> Response[str]:
    about_job(job.id, job.type)
    headers = {"ETag": job.etag, "Cache-Control": "private, no-cache"}
    if not job.status.is_terminal:
        headers["Retry-After"] = str(retry_after_seconds(job, utc_now()))
    headers.update(extra_headers or {})
    return Response(status, JSON, job.to_resource().model_dump_json(by_alias=True), headers)


@router.post(
    "/jobs",
    operation_id="submitJob",
    summary="Submit a job",
    responses={
        202: {
            **json_response(
                "Accepted; poll Location.",
                JobResource,
                {**JOB_HEADERS, "Location": "/jobs/{id}", "Idempotent-Replayed": "`true` on a repeat."},
            ),
            "links": {
                name: {"operationId": operation, "parameters": {"id": "$response.body#/id"}}
                for name, operation in JOB_LINKS.items()
            },
        },
        **problem_responses(*AUTHENTICATED, *WITH_A_BODY, 409),
    },
)
def submit_job(body: SubmitJobRequest) -> Response[str]:
    idempotency_key = request_header(router, "Idempotency-Key")
    if idempotency_key is not None and not IDEMPOTENCY_KEY_PATTERN.match(idempotency_key):
        raise MalformedHeader("Idempotency-Key", "must be 1-255 visible ASCII characters")
    callback = Callback.model_validate(body.callback.model_dump()) if body.callback else None
    outcome = job_service().submit(
        tenant_id(router),
        SubmitRequest(type=body.type, input=body.input, callback=callback, retention=body.retention),
        idempotency_key,
    )
    headers = {"Location": f"/jobs/{outcome.job.id}"}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return _job_response(202, outcome.job, headers)


@router.get(
    "/jobs/<id>",
    operation_id="getJob",
    summary="Read a job (ETag, If-None-Match, Prefer: wait=N long-poll)",
    responses={
        200: json_response("The job.", JobResource, {**JOB_HEADERS, "Preference-Applied": "`wait=N` when held."}),
        304: empty_response("If-None-Match matches the job's ETag.", JOB_HEADERS),
        **problem_responses(*ON_A_JOB, 400),
    },
)
def get_job(id: JobId) -> Response[str]:  # noqa: A002 - docs/api.md names it {id}
    service = job_service()
    tenant = tenant_id(router)
    if_none_match = request_header(router, "If-None-Match")
    if if_none_match is not None and not IF_NONE_MATCH_PATTERN.match(if_none_match):
        raise MalformedHeader("If-None-Match", 'must be * or a list of entity tags such as "3"')
    wait = _preferred_wait(request_header(router, "Prefer"))
    job = service.get_for_tenant(tenant, id)
    extra: dict[str, str] = {}
    if wait is not None and if_none_match is not None:
        extra["Preference-Applied"] = f"wait={wait}"
        deadline = time.monotonic() + wait
        pause = 0.2
        while _etag_matches(if_none_match, job.etag) and time.monotonic() < deadline:
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 1.5, 1.0)
            # Half-price reads: a stale one (an older version) is not taken for a change.
            fresh = service.get_for_tenant(tenant, id, consistent=False)
            job = fresh if fresh.version > job.version else job
    if if_none_match is not None and _etag_matches(if_none_match, job.etag):
        response = _job_response(304, job, extra)
        response.body = ""
        return response
    return _job_response(200, job, extra)


def _preferred_wait(prefer: str | None) -> int | None:
    """The `wait` preference capped at MAX_WAIT_SECONDS; None without one."""
    match = PREFER_WAIT_PATTERN.search(prefer or "")
    if match is None:
        return None
    if not WAIT_SECONDS_PATTERN.match(match.group(1)):
        raise MalformedHeader("Prefer", "wait must be a whole number of seconds (at most 9 digits)")
    return min(int(match.group(1)), MAX_WAIT_SECONDS)


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison over a list of entity tags (or `*`)."""
    candidates = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in candidates or any(tag.removeprefix("W/") == etag for tag in candidates)


@router.get(
    "/jobs",
    operation_id="listJobs",
    summary="List your jobs, newest first",
    responses={200: json_response("A page of jobs.", JobList), **problem_responses(*AUTHENTICATED, 400)},
)
def list_jobs(
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    type: Annotated[str | None, Query(description="Only jobs of this type.", max_length=64)] = None,  # noqa: A002
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    cursor: Annotated[
        str | None, Query(description="`next` of the previous page.", max_length=512, pattern=CURSOR_PATTERN)
    ] = None,
) -> Response[str]:
    page = job_service().list_for_tenant(tenant_id(router), limit=limit, cursor=cursor, status=status, job_type=type)
    body = JobList(items=[job.to_resource() for job in page.jobs], next=page.next_cursor)
    return Response(200, JSON, body.model_dump_json(by_alias=True))


@router.get(
    "/jobs/<id>/events",
    operation_id="listEvents",
    summary="The job's timeline, in sequence order",
    responses={200: json_response("A page of events.", EventList), **problem_responses(*ON_A_JOB, 400)},
)
def list_events(
    id: JobId,  # noqa: A002 - docs/api.md names it {id}
    after: Annotated[int, Query(ge=0, description="Only events with a greater sequence.")] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 100,
) -> Response[str]:
    page = job_service().events_for_tenant(tenant_id(router), id, after=after, limit=limit)
    next_after = str(page.events[-1].sequence) if page.has_more and page.events else None
    body = EventList(items=page.events, next=next_after)
    return Response(200, JSON, body.model_dump_json(by_alias=True))


@router.get(
    "/jobs/<id>/result",
    operation_id="getResult",
    summary="The job's result (303 to a short-lived download URL when large)",
    responses={
        200: json_response("The result: any JSON value.", None),
        303: empty_response(
            "Large result: follow Location (valid for 5 minutes).",
            {"Location": "A short-lived download URL.", "Cache-Control": "`no-store`."},
        ),
        **problem_responses(*ON_A_JOB, 409),
    },
)
def get_result(id: JobId) -> Response[str]:  # noqa: A002 - docs/api.md names it {id}
    view = job_service().result_for_tenant(tenant_id(router), id)
    if view.download_url is not None:
        return Response(303, None, "", {"Location": view.download_url, "Cache-Control": "no-store"})
    return Response(200, JSON, view.inline_json or "null")


@router.delete(
    "/jobs/<id>",
    operation_id="deleteJob",
    summary="Cancel a running job (202) or purge a finished one (204)",
    responses={
        202: json_response("Cancelling.", JobResource, JOB_HEADERS),
        204: empty_response("Purged."),
        **problem_responses(*ON_A_JOB),
    },
)
def delete_job(id: JobId) -> Response[str]:  # noqa: A002 - docs/api.md names it {id}
    job = job_service().cancel_or_purge(tenant_id(router), id)
    if job is None:
        return Response(204, None, "")
    return _job_response(202, job)
