"""The web console in a real browser: headless Chromium (Debian's) driven by Playwright, against the local stack.

Every test fails on a message the browser logs as an error that the test did not expect, so a
Content-Security-Policy violation or a script error anywhere fails it. With
$JOBGATE_CONSOLE_SCREENSHOTS set to a directory, the list and a job page are saved there as
console-jobs.png and console-job.png: docs/images/ has the ones docs/clients.md shows, made so.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Locator, Page, Request, expect, sync_playwright

from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import API_KEY, Client, eventually
from tests.e2e.receivers import Receiver, running

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = os.environ.get("JOBGATE_CONSOLE_SCREENSHOTS")
# Planned past Express's minute: a Standard workflow, running (and cancellable) until stopped.
LONG_JOB = {"steps": 4, "stepSeconds": 1800}
UI_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    assert CHROMIUM.exists(), f"the console's browser tests need Debian's Chromium at {CHROMIUM}: run make deps"
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="jobgate-chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,  # a fresh user-data-dir: no state from any other run
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 860},
            accept_downloads=True,
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        yield context
        context.close()


@dataclass
class BrowserLog:
    """What the page logged as an error, and the HTTP statuses a test expects it to log."""

    errors: list[str] = field(default_factory=list)
    expected_statuses: set[int] = field(default_factory=set)

    def unexpected(self) -> list[str]:
        expected = re.compile(rf"status of ({'|'.join(map(str, self.expected_statuses)) or 'none'}) ")
        return [error for error in self.errors if not expected.search(error)]

    def csp_violations(self) -> list[str]:
        return [error for error in self.errors if "Content Security Policy" in error]


@pytest.fixture
def log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def page(browser: BrowserContext, local_stack: LocalStack, log: BrowserLog) -> Iterator[Page]:
    page = browser.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            log.errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: log.errors.append(f"uncaught: {error}"))
    page.goto(f"{local_stack.api_url}/console")
    yield page
    page.close()
    assert log.unexpected() == [], "the browser logged errors"


def sign_in(page: Page, key: str = API_KEY) -> None:
    """With the keyboard only: type the key and press Enter."""
    page.get_by_label("API key").fill(key)
    page.get_by_label("API key").press("Enter")


def signed_in(page: Page) -> None:
    sign_in(page)
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()


def row_of(page: Page, job_id: str) -> Locator:
    return page.locator(f'tr[data-job-id="{job_id}"]')


def open_job(page: Page, job_id: str) -> None:
    """From the list, by keyboard: focus the job's link and press Enter."""
    link = page.get_by_role("link", name=job_id)
    link.focus()
    link.press("Enter")
    expect(page.locator("#job-title")).to_contain_text(job_id)


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)


def test_a_wrong_key_shows_the_apis_problem_and_keeps_nothing(page: Page, log: BrowserLog) -> None:
    log.expected_statuses.add(401)  # the browser logs the refused request itself

    sign_in(page, "jg_not-a-key")

    expect(page.get_by_role("alert")).to_contain_text("Unauthorized (401)")
    expect(page.get_by_role("alert")).to_contain_text("The API key is not valid.")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_the_policy_is_sent_and_enforced(page: Page, log: BrowserLog, local_stack: LocalStack) -> None:
    served = page.request.get(f"{local_stack.api_url}/console")
    policy = served.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"):
        assert directive in policy
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["referrer-policy"] == "no-referrer"

    with pytest.raises(Exception, match="Content Security Policy"):
        page.add_script_tag(content="document.title = 'injected'")  # inline script: the browser refuses it

    assert page.title() == "jobgate console"
    assert len(log.csp_violations()) == 1  # so a violation by the console itself would be caught
    log.errors.clear()


def test_the_list_follows_a_job_live_to_succeeded_with_conditional_long_polls(page: Page, client: Client) -> None:
    signed_in(page)
    job = client.submit({"steps": 3, "stepSeconds": 4})  # about 6 s at the stack's time scale
    polls: list[dict[str, str]] = []

    def on_request(request: Request) -> None:
        if request.url.endswith(f"/jobs/{job['id']}") and request.method == "GET":
            polls.append(request.headers)

    page.on("request", on_request)
    page.get_by_role("button", name="Refresh").click()
    row = row_of(page, job["id"])
    expect(row).to_be_visible()
    assert row.locator(".status").inner_text() != "succeeded"

    expect(row.locator(".status")).to_have_text("succeeded", timeout=UI_TIMEOUT_MS)
    expect(row.locator("progress")).to_have_js_property("value", 100)
    expect(page.locator("#announcer")).to_have_text(f"{job['id']} is now succeeded.")
    # One plain read for the job's ETag, then only conditional long-polls: one per change at most.
    assert polls[0].get("if-none-match") is None
    assert all(p.get("if-none-match") and p.get("prefer") == "wait=20" for p in polls[1:])
    events = client.request("GET", f"/jobs/{job['id']}/events").json()["items"]
    assert len(polls) <= len(events) + 1
    assert API_KEY not in page.url
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("sessionStorage.getItem('jobgate.apiKey')") == API_KEY


def test_filters_by_status_and_type(page: Page, client: Client) -> None:
    failed = client.submit({"steps": 2, "stepSeconds": 0, "failAtStep": 2})
    running_job = client.submit({"steps": 4, "stepSeconds": 60})
    client.wait_until_terminal(failed["id"])
    client.wait_for(running_job["id"], lambda job: job["progress"]["percent"] > 0)
    signed_in(page)

    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Apply filters").click()
    expect(row_of(page, failed["id"])).to_be_visible()
    expect(row_of(page, running_job["id"])).to_have_count(0)
    assert set(page.locator("#job-rows .status").all_inner_texts()) == {"failed"}

    page.get_by_label("Status").select_option("")
    # A type of none of the jobs on this stack, which other modules share (conftest.SHARED_STACK).
    page.get_by_label("Type").fill("background-check")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("No jobs match.")).to_be_visible()

    page.get_by_label("Type").fill("demo")
    page.get_by_label("Type").press("Enter")
    expect(row_of(page, running_job["id"])).to_be_visible()
    expect(row_of(page, failed["id"])).to_be_visible()
    screenshot(page, "console-jobs.png")


def test_a_job_page_shows_steps_timeline_result_and_redelivers_a_webhook(page: Page, client: Client) -> None:
    with running(Receiver()) as receiver:
        job = client.submit({"steps": 3, "stepSeconds": 0}, callback={"url": receiver.url, "events": ["job.succeeded"]})
        client.wait_until_terminal(job["id"])
        first = eventually(lambda: receiver.events_of(job["id"]), lambda found: len(found) == 1)[0]
        eventually(
            lambda: client.request("GET", f"/jobs/{job['id']}/deliveries").json()["items"],
            lambda attempts: [a["outcome"] for a in attempts] == ["delivered"],
        )
        signed_in(page)
        open_job(page, job["id"])

        steps = page.locator("#steps > li")
        expect(steps).to_have_count(3)
        expect(steps.locator(".status")).to_have_text(["succeeded"] * 3)
        events = client.request("GET", f"/jobs/{job['id']}/events").json()["items"]
        expect(page.locator("#timeline > li")).to_have_count(len(events))
        expect(page.locator("#timeline > li").first).to_contain_text("#1 job.started")
        expect(page.locator("#timeline > li").nth(1)).to_contain_text("job.step — running, 0%, step-1 running")
        expect(page.locator("#timeline > li").last).to_contain_text("job.succeeded")

        with page.expect_download() as download:
            page.get_by_role("button", name="Download result").click()
        saved = Path(download.value.path()).read_text()
        assert json.loads(saved) == client.request("GET", f"/jobs/{job['id']}/result").json()
        expect(page.locator("#result-preview")).to_be_visible()

        delivery = page.locator("#delivery-rows tr")
        expect(delivery).to_have_count(1)
        expect(delivery.locator(".status")).to_have_text("delivered")
        screenshot(page, "console-job.png")
        delivery.get_by_role("button", name=re.compile("Redeliver")).click()
        expect(page.locator("#announcer")).to_contain_text(f"Event {first.event['sequence']} is being sent again")
        again = eventually(lambda: receiver.events_of(job["id"]), lambda found: len(found) == 2)[1]
    assert again.headers["webhook-id"] == first.headers["webhook-id"]


def test_cancel_asks_first_then_cancels_the_running_job(page: Page, client: Client) -> None:
    job = client.submit(LONG_JOB)
    client.wait_for(job["id"], lambda current: current["status"] == "running")
    signed_in(page)
    open_job(page, job["id"])
    dialog = page.get_by_role("dialog")

    page.get_by_role("button", name="Cancel job").click()
    expect(dialog).to_be_visible()
    expect(page.get_by_role("button", name="Keep the job")).to_be_focused()
    page.keyboard.press("Escape")  # changed my mind
    expect(dialog).to_be_hidden()
    assert client.job(job["id"])["status"] == "running"

    page.get_by_role("button", name="Cancel job").click()
    dialog.get_by_role("button", name="Cancel job").click()

    expect(page.locator("#job-title .status")).to_have_text("cancelled")
    expect(page.locator("#timeline > li").last).to_contain_text("job.cancelled")
    expect(page.get_by_role("button", name="Purge job")).to_be_visible()
    assert client.job(job["id"])["status"] == "cancelled"


def test_purge_deletes_a_finished_job_after_confirmation(page: Page, client: Client) -> None:
    job = client.submit({"steps": 1, "stepSeconds": 0, "resultBytes": 100_000})
    client.wait_until_terminal(job["id"])
    signed_in(page)
    open_job(page, job["id"])
    page.get_by_role("button", name="Download result").click()  # over 64 KiB: a 303 the page must not follow
    expect(page.locator("#result-note")).to_contain_text(f"jobgate jobs result {job['id']}")

    page.get_by_role("button", name="Purge job").click()
    page.get_by_role("dialog").get_by_role("button", name="Purge job").click()

    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    expect(page.locator("#announcer")).to_have_text(f"{job['id']} was purged.")
    expect(row_of(page, job["id"])).to_have_count(0)
    assert client.request("GET", f"/jobs/{job['id']}").status_code == 404


def test_sign_out_forgets_the_key(page: Page) -> None:
    signed_in(page)

    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("API key")).to_be_focused()
    expect(page.get_by_label("API key")).to_have_css("outline-style", "solid")  # the focus is visible
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
