"""Concurrent API requests are answered from their own request, as on Lambda.

Each concurrent request runs in an execution environment of its own: Powertools keeps the
current event on a class attribute (BaseRouter.current_event), so requests that shared one
would read each other's headers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import requests

from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import API_KEY, OTHER_API_KEY, Client


@dataclass(frozen=True)
class Poll:
    api_key: str
    job_id: str
    if_none_match: str
    wait: int


def test_concurrent_long_polls_of_two_tenants_each_get_their_own_answer(local_stack: LocalStack) -> None:
    jobs: dict[str, dict[str, Any]] = {}
    for api_key in (API_KEY, OTHER_API_KEY):
        client = Client(local_stack.api_url, api_key)
        submitted = client.submit({"steps": 1, "stepSeconds": 0})
        jobs[api_key] = client.wait_until_terminal(submitted["id"])
        jobs[api_key]["etag"] = client.request("GET", f"/jobs/{submitted['id']}").headers["ETag"]
    polls = [
        Poll(api_key, job["id"], if_none_match, wait)
        for api_key, job in jobs.items()
        for if_none_match, wait in (
            *((job["etag"], wait) for wait in (1, 2, 3)),
            *(('"stale"', wait) for wait in (4, 5, 6)),
        )
    ]
    # Twice: the second time every environment is warm, so the requests really run at the same time.
    for _ in range(2):
        check_answers(local_stack, jobs, polls)


def check_answers(local_stack: LocalStack, jobs: dict[str, dict[str, Any]], polls: list[Poll]) -> None:
    answers: dict[Poll, requests.Response] = {}
    lock = threading.Lock()

    def run(poll: Poll) -> None:
        response = requests.get(
            f"{local_stack.api_url}/jobs/{poll.job_id}",
            headers={
                "Authorization": f"Bearer {poll.api_key}",
                "If-None-Match": poll.if_none_match,
                "Prefer": f"wait={poll.wait}",
            },
            timeout=30,
        )
        with lock:
            answers[poll] = response

    threads = [threading.Thread(target=run, args=(poll,)) for poll in polls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == len(polls)
    for poll, response in answers.items():
        assert response.headers.get("Preference-Applied") == f"wait={poll.wait}", poll
        if poll.if_none_match == jobs[poll.api_key]["etag"]:
            # A finished job does not change: the poll waited its own wait, then answered not modified.
            assert (response.status_code, response.text) == (304, ""), poll
        else:
            assert response.status_code == 200, poll
            assert response.json()["id"] == poll.job_id
            assert response.headers["ETag"] == jobs[poll.api_key]["etag"]
