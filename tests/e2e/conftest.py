"""The local stack, started in-process once for these tests and driven over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from jobgate_cli.local.stack import LocalStack, LocalStackConfig
from jobgate_cli.local.tenants_seed import TenantSeed

API_KEY = "jg_e2e-acme-key"
OTHER_API_KEY = "jg_e2e-globex-key"
TERMINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture(autouse=True)
def _environment() -> None:
    """The e2e stack sets its own AWS environment; the unit tests' fixture must not override it."""


SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_plJ3nmyCDGBKInavdOK15jsl"


def start_local_stack(**config: Any) -> LocalStack:
    """A local stack on free ports with the two test tenants; `config` overrides the defaults."""
    settings: dict[str, Any] = {
        "port": 0,
        "aws_port": 0,  # the endpoint takes a free port itself: no race with other listeners
        "tenants": [TenantSeed("acme", API_KEY, SECRET), TenantSeed("globex", OTHER_API_KEY, OTHER_SECRET)],
        "function_preload": ("tests.e2e.fake_dns_in_functions",),  # the functions' DNS, for tests that fake it
        **config,
    }
    stack = LocalStack(LocalStackConfig(**settings))
    stack.start()
    return stack


def eventually(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30) -> Any:
    """Read until `done(value)`; fails the test with the last value when time runs out."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        assert time.monotonic() < deadline, f"gave up waiting; last value: {value!r}"
        time.sleep(0.1)
        value = read()
    return value


class SharedStack:
    """The default stack, started once for every module that uses it rather than once per module
    (a start costs seconds): those modules run first, one after another, and the last one stops it."""

    def __init__(self) -> None:
        self.stack: LocalStack | None = None
        self.last_module: str | None = None

    def get(self) -> LocalStack:
        if self.stack is None:
            self.stack = start_local_stack(
                time_scale=0.5, parameter_overrides={"JobRetentionMin": "PT1S"}, ttl_sweep_seconds=0.5
            )
        return self.stack

    def stop(self) -> None:
        stack, self.stack = self.stack, None
        if stack is not None:
            stack.stop()


SHARED_STACK = SharedStack()


def _uses_shared_stack(item: pytest.Item) -> bool:
    """Whether the test's `local_stack` is this file's (not a module's own stack)."""
    definitions = item._fixtureinfo.name2fixturedefs.get("local_stack", ())  # type: ignore[attr-defined]
    return bool(definitions) and definitions[-1].func is _shared_local_stack


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected: the order of what will run
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not _uses_shared_stack(item))  # stable: files keep their order
    shared = [item.module.__name__ for item in items if _uses_shared_stack(item)]  # type: ignore[attr-defined]
    SHARED_STACK.last_module = shared[-1] if shared else None


def pytest_sessionfinish() -> None:
    SHARED_STACK.stop()  # a run stopped early (-x) never reached the last module's teardown


def _shared_local_stack(request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    yield SHARED_STACK.get()
    if request.module.__name__ == SHARED_STACK.last_module:
        SHARED_STACK.stop()


local_stack = pytest.fixture(scope="module", name="local_stack")(_shared_local_stack)


class Client:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base_url + path, timeout=30, allow_redirects=False, **kwargs)

    def submit(self, job_input: dict[str, Any], **extra: Any) -> dict[str, Any]:
        response = self.request("POST", "/jobs", json={"type": "demo", "input": job_input, **extra})
        assert response.status_code == 202, response.text
        job: dict[str, Any] = response.json()
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self.request("GET", f"/jobs/{job_id}").json()
        return job

    def wait_for(self, job_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
        """Long-poll until `done(job)`; every status seen on the way is in job['_seen']."""
        deadline = time.monotonic() + timeout
        response = self.request("GET", f"/jobs/{job_id}")
        seen = [response.json()["status"]]
        while not done(response.json()):
            assert time.monotonic() < deadline, f"job {job_id} still {response.json()['status']}"
            etag = response.headers["ETag"]
            polled = self.request("GET", f"/jobs/{job_id}", headers={"If-None-Match": etag, "Prefer": "wait=5"})
            if polled.status_code == 200:
                response = polled
                if response.json()["status"] != seen[-1]:
                    seen.append(response.json()["status"])
        job: dict[str, Any] = response.json()
        job["_seen"] = seen
        return job

    def wait_until_terminal(self, job_id: str, timeout: float = 30) -> dict[str, Any]:
        return self.wait_for(job_id, lambda job: job["status"] in TERMINAL, timeout)


@pytest.fixture
def client(local_stack: LocalStack) -> Client:
    return Client(local_stack.api_url, API_KEY)


def aws_clients(stack: LocalStack) -> Callable[[str], Any]:
    """boto3 clients on a local stack's endpoints (DynamoDB Local or moto), as a user would make them."""
    return stack.endpoints.client


@pytest.fixture
def aws(local_stack: LocalStack) -> Callable[[str], Any]:
    return aws_clients(local_stack)
