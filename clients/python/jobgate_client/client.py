"""`Client`: every route of the job API, with the waiting, retrying and paging done for you."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import urljoin

import requests

from jobgate_client.errors import ConnectionFailed, WaitTimeout, api_error, unsuccessful
from jobgate_client.models import Event, Job, Upload

__all__ = ["MAX_POLL_WAIT_SECONDS", "Client"]

MAX_POLL_WAIT_SECONDS = 20  # docs/api.md: the API caps Prefer: wait=N at 20
RETRIED_STATUSES = frozenset({429, 503})
CHUNK_BYTES = 64 * 1024
Body = bytes | IO[bytes]


class Client:
    """A jobgate API at `api_url` (e.g. `http://127.0.0.1:3000`), as the tenant whose key is `api_key`.

    Every request is retried on `429` and `503` after the `Retry-After` the API sends (at most
    `max_retries` times, each pause at most `max_retry_after` seconds); a request that is safe to
    repeat (reads, a submit with its Idempotency-Key, an upload) is retried the same way when the
    connection fails. `timeout` bounds each request's connect and read (a long-poll gets its hold on top).
    """

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 4,
        max_retry_after: float = 60.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._authorization = f"Bearer {api_key}"
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self._session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Jobs

    def submit(
        self,
        type: str,  # noqa: A002 - the API's name for it
        input: Mapping[str, Any] | None = None,  # noqa: A002 - the API's name for it
        callback: str | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        retention: str | None = None,
    ) -> Job:
        """POST /jobs. Without `idempotency_key` a fresh one is made for this call (and reused by its
        retries), so a submit retried after a lost answer never makes a second job. `callback` is a
        URL, or `{"url": ..., "events": [...]}`; `retention` an ISO 8601 duration such as `P1D`."""
        body: dict[str, Any] = {"type": type, "input": dict(input or {})}
        if callback is not None:
            body["callback"] = {"url": callback} if isinstance(callback, str) else dict(callback)
        if retention is not None:
            body["retention"] = retention
        key = idempotency_key or f"jobgate-client-{uuid.uuid4()}"
        response = self._api("POST", "/jobs", json=body, headers={"Idempotency-Key": key}, repeatable=True)
        return Job.from_json(response.json())

    def get(self, job_id: str) -> Job:
        """GET /jobs/{id}."""
        return Job.from_json(self._api("GET", f"/jobs/{job_id}").json())

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_progress: Callable[[Job], None] | None = None,
        poll_wait: int = MAX_POLL_WAIT_SECONDS,
    ) -> Job:
        """Follow the job until it ends and return it if it `succeeded`.

        As docs/api.md advises: wait the `Retry-After` the API computes from the job's progress,
        then ask with `If-None-Match` (the last ETag) and `Prefer: wait=poll_wait` (0: no long-poll),
        so the answer comes as soon as the job changes. `on_progress` gets the job first and then
        each changed job. Raises JobFailed (JobTimedOut when it ran past a time limit) or
        JobCancelled, carrying the job and its `error`; WaitTimeout after `timeout` seconds.
        """
        deadline = None if timeout is None else self._clock() + timeout
        response = self._api("GET", f"/jobs/{job_id}")
        job = Job.from_json(response.json())
        etag = response.headers.get("ETag")
        if on_progress:
            on_progress(job)
        while not job.is_terminal:
            self._sleep(self._capped(_retry_after(response) or 1.0, deadline, job, timeout))
            hold = int(self._capped(min(poll_wait, MAX_POLL_WAIT_SECONDS), deadline, job, timeout))
            headers = {"If-None-Match": etag} if etag else {}
            if hold >= 1 and etag:
                headers["Prefer"] = f"wait={hold}"
            response = self._api("GET", f"/jobs/{job_id}", headers=headers, extra_read_timeout=hold)
            if response.status_code == 200:
                job, etag = Job.from_json(response.json()), response.headers.get("ETag")
                if on_progress:
                    on_progress(job)
        if job.status == "succeeded":
            return job
        raise unsuccessful(job)

    def _capped(self, seconds: float, deadline: float | None, job: Job, timeout: float | None) -> float:
        """`seconds`, or what is left before `deadline` if less; WaitTimeout once nothing is left."""
        if deadline is None:
            return seconds
        left = deadline - self._clock()
        if left <= 0:
            raise WaitTimeout(job, timeout or 0)
        return min(seconds, left)

    def events(self, job_id: str, after: int = 0) -> Iterator[Event]:
        """The job's timeline from sequence `after` + 1, page by page (GET /jobs/{id}/events?after=)."""
        position: int | None = after
        while position is not None:
            page = self._api("GET", f"/jobs/{job_id}/events", params={"after": position}).json()
            for item in page["items"]:
                yield Event.from_json(item)
            position = int(page["next"]) if page.get("next") else None

    def cancel(self, job_id: str) -> Job | None:
        """DELETE /jobs/{id}: a queued or running job becomes `cancelling`/`cancelled` and is returned;
        a job that already ended is purged instead (with its events and result): None."""
        response = self._api("DELETE", f"/jobs/{job_id}")
        return None if response.status_code == 204 else Job.from_json(response.json())

    def result(self, job_id: str) -> Any:
        """The result JSON of a succeeded job (a large one is fetched from the object store)."""
        with self.stream_result(job_id) as chunks:
            return json.loads(b"".join(chunks))

    def save_result(self, job_id: str, destination: str | os.PathLike[str] | IO[bytes]) -> int:
        """Stream the result into a file (a path or a binary file object); the number of bytes written."""
        written = 0
        with self.stream_result(job_id) as chunks:
            if isinstance(destination, str | os.PathLike):
                with open(destination, "wb") as file:
                    for chunk in chunks:
                        written += file.write(chunk)
            else:
                for chunk in chunks:
                    written += destination.write(chunk)
        return written

    @contextmanager
    def stream_result(self, job_id: str) -> Iterator[Iterator[bytes]]:
        """The result's bytes in chunks, never all in memory: `with client.stream_result(id) as chunks:`.
        A large result answers `303 See Other` to a short-lived object-store URL, which is read
        without the API key (it is signed itself)."""
        response = self._api("GET", f"/jobs/{job_id}/result", stream=True)
        if response.status_code == 303:
            location = urljoin(self.api_url + "/", response.headers["Location"])
            response.close()
            response = self._checked(self._send("GET", location, stream=True, repeatable=True))
        try:
            yield response.iter_content(CHUNK_BYTES)
        finally:
            response.close()

    # Uploads

    def upload(self, source: bytes | str | os.PathLike[str] | IO[bytes]) -> Upload:
        """POST /uploads, then PUT `source` (bytes, a path or a binary file) to the URL it gives,
        streamed from the file; name it in a job input as `{"upload": upload.upload_id}`."""
        created = self._api("POST", "/uploads", repeatable=True).json()
        upload = Upload(upload_id=created["uploadId"], expires_at=datetime.fromisoformat(created["expiresAt"]))
        if isinstance(source, str | os.PathLike):
            with open(source, "rb") as file:
                self._checked(self._send(created["method"], created["url"], data=file, repeatable=True))
        else:
            self._checked(self._send(created["method"], created["url"], data=source, repeatable=True))
        return upload

    # Requests

    def _api(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        repeatable: bool | None = None,
        extra_read_timeout: float = 0,
        **kwargs: Any,
    ) -> requests.Response:
        """A request to the API with the key; an error answer raised as its ApiError."""
        all_headers = {"Authorization": self._authorization, "Accept": "application/json", **(headers or {})}
        response = self._send(
            method,
            self.api_url + path,
            headers=all_headers,
            repeatable=method == "GET" if repeatable is None else repeatable,
            extra_read_timeout=extra_read_timeout,
            **kwargs,
        )
        return self._checked(response)

    def _send(
        self,
        method: str,
        url: str,
        *,
        repeatable: bool,
        data: Body | None = None,
        extra_read_timeout: float = 0,
        **kwargs: Any,
    ) -> requests.Response:
        """One request, retried on 429/503 (and, if `repeatable`, on a failed connection)."""
        rewind = _rewinder(data)
        attempt = 0
        while True:
            if attempt and rewind is not None:
                rewind()
            try:
                response = self._session.request(
                    method,
                    url,
                    data=data,
                    timeout=(self.timeout, self.timeout + extra_read_timeout),
                    allow_redirects=False,
                    **kwargs,
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                if not (repeatable and rewind is not None and attempt < self.max_retries):
                    raise ConnectionFailed(method, url, error) from error
                attempt += 1
                self._sleep(min(2.0 ** (attempt - 1), self.max_retry_after))
                continue
            if response.status_code in RETRIED_STATUSES and rewind is not None and attempt < self.max_retries:
                attempt += 1
                pause = _retry_after(response)
                response.close()
                self._sleep(min(pause if pause is not None else 2.0 ** (attempt - 1), self.max_retry_after))
                continue
            return response

    @staticmethod
    def _checked(response: requests.Response) -> requests.Response:
        if response.status_code < 400:
            return response
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            # Not problem+json (an object store's XML, a proxy's page): keep its beginning as the detail.
            problem = {"title": response.reason or "", "detail": response.text[:500]}
        raise api_error(response.status_code, problem, _retry_after(response))

    # Listing last: a method named `list` would shadow the builtin in the annotations below it.

    def list(
        self,
        status: str | None = None,
        type: str | None = None,  # noqa: A002 - the API's name for it
        page_size: int | None = None,
    ) -> Iterator[Job]:
        """Your jobs, newest first, every page (GET /jobs, following `next`); filtered by status and type."""
        params: dict[str, str | int] = {}
        if status is not None:
            params["status"] = status
        if type is not None:
            params["type"] = type
        if page_size is not None:
            params["limit"] = page_size
        while True:
            page = self._api("GET", "/jobs", params=params).json()
            for item in page["items"]:
                yield Job.from_json(item)
            if not page.get("next"):
                return
            params["cursor"] = page["next"]


def _rewinder(data: Body | None) -> Callable[[], None] | None:
    """How to send `data` again from its start; None for a stream that cannot be rewound (an attempt
    has read it, at least in part, so it cannot be sent again)."""
    if data is None or isinstance(data, bytes):
        return lambda: None
    if not data.seekable():
        return None
    stream: IO[bytes] = data
    start = stream.tell()

    def rewind() -> None:
        stream.seek(start)

    return rewind


def _retry_after(response: requests.Response) -> float | None:
    """`Retry-After` in seconds (a number or an HTTP date), None if absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
