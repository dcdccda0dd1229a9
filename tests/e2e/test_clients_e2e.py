"""The Python client (jobgate_client) and `jobgate jobs` against the local stack, and the
examples of docs/clients.md run as they are written."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import re
import shlex
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from jobgate_cli.jobs import EXIT_FAILED
from jobgate_cli.local.stack import LocalStack
from jobgate_cli.main import main
from jobgate_client import Client, Job, JobCancelled, JobFailed, ResultNotReady
from tests.e2e.conftest import API_KEY

DOCS = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
CSV_HEADER = "email,name,country,signupDate,lifetimeValue\n"


@pytest.fixture
def sdk(local_stack: LocalStack) -> Iterator[Client]:
    with Client(local_stack.api_url, API_KEY) as client:
        yield client


def test_submit_wait_events_list_and_result(sdk: Client) -> None:
    seen: list[Job] = []
    job = sdk.submit("demo", {"steps": 2, "stepSeconds": 1})

    done = sdk.wait(job.id, on_progress=seen.append)

    assert done.status == "succeeded"
    assert seen[0].status in {"queued", "running"}
    assert seen[-1] == done
    # only changes are reported (two in a row may share status and percent: a step's message)
    assert all(before.raw != after.raw for before, after in itertools.pairwise(seen))
    events = list(sdk.events(job.id))
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert (events[0].type, events[-1].type) == ("job.started", "job.succeeded")
    assert [e.sequence for e in sdk.events(job.id, after=2)] == [e.sequence for e in events[2:]]
    assert job.id in {listed.id for listed in sdk.list(status="succeeded", type="demo")}
    assert sdk.result(job.id)["steps"] == 2


def test_list_follows_cursors_past_the_first_page(sdk: Client) -> None:
    submitted = {sdk.submit("demo", {"steps": 1}).id for _ in range(3)}

    listed = [job.id for job in sdk.list(type="demo", page_size=1)]

    assert submitted <= set(listed)
    assert len(listed) == len(set(listed))


def test_a_failed_job_raises_job_failed_carrying_its_error(sdk: Client) -> None:
    job = sdk.submit("demo", {"steps": 1, "failAtStep": 1})

    with pytest.raises(JobFailed) as caught:
        sdk.wait(job.id)

    assert caught.value.job.status == "failed"
    assert caught.value.error is not None
    assert (caught.value.error.type, caught.value.error.step) == ("DemoStepFailed", "step-1")
    with pytest.raises(ResultNotReady) as not_ready:
        sdk.result(job.id)
    assert not_ready.value.job_status == "failed"


def test_a_cancelled_job_ends_the_wait_with_job_cancelled(sdk: Client) -> None:
    job = sdk.submit("demo", {"steps": 5, "stepSeconds": 1})

    cancelled = sdk.cancel(job.id)

    assert cancelled is not None
    assert cancelled.status in {"cancelling", "cancelled"}
    with pytest.raises(JobCancelled):
        sdk.wait(job.id, timeout=30)


class AnswerLosingProxy(ThreadingHTTPServer):
    """Relays requests to the API, but drops the answer to the first POST /jobs after the API
    made the job: what a client sees when a connection dies at the worst moment."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.dropped = 0
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: AnswerLosingProxy

    def _relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
        answer = requests.request(
            self.command, self.server.upstream + self.path, headers=headers, data=body, timeout=30
        )
        if self.command == "POST" and self.path == "/jobs" and not self.server.dropped:
            self.server.dropped += 1
            self.close_connection = True  # the job exists; its answer never arrives
            return
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in {"content-length", "transfer-encoding", "connection", "content-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def do_GET(self) -> None:
        self._relay()

    def do_POST(self) -> None:
        self._relay()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def test_a_submit_retried_after_a_lost_answer_makes_one_job(local_stack: LocalStack, sdk: Client) -> None:
    proxy = AnswerLosingProxy(local_stack.api_url)
    before = {job.id for job in sdk.list(type="demo")}
    try:
        with Client(proxy.url, API_KEY, sleep=lambda _: None) as through_proxy:
            job = through_proxy.submit("demo", {"steps": 1})
    finally:
        proxy.shutdown()
        proxy.server_close()

    assert proxy.dropped == 1
    assert {listed.id for listed in sdk.list(type="demo")} - before == {job.id}


def test_an_upload_is_streamed_and_read_by_a_bulk_import(sdk: Client, tmp_path: Path) -> None:
    rows = "".join(f"u{n}@example.com,User {n},DE,2024-01-0{n + 1},{n}.50\n" for n in range(3))
    (tmp_path / "rows.csv").write_text(CSV_HEADER + rows)

    upload = sdk.upload(tmp_path / "rows.csv")
    job = sdk.wait(sdk.submit("bulk-import", {"upload": upload.upload_id}).id)

    assert upload.upload_id.startswith("upl_")
    assert sdk.result(job.id)["rowsLoaded"] == 3


def test_a_large_result_is_followed_through_its_303_and_streamed_to_a_file(sdk: Client, tmp_path: Path) -> None:
    job = sdk.wait(sdk.submit("demo", {"steps": 1, "resultBytes": 100_000}).id)
    redirect = requests.get(
        f"{sdk.api_url}/jobs/{job.id}/result", headers={"Authorization": f"Bearer {API_KEY}"}, allow_redirects=False
    )

    written = sdk.save_result(job.id, tmp_path / "result.json")

    assert redirect.status_code == 303
    assert written == (tmp_path / "result.json").stat().st_size > 100_000
    assert json.loads((tmp_path / "result.json").read_text()) == sdk.result(job.id)


def test_the_cli_follows_a_job_to_its_end_and_exits_with_its_outcome(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--api-url", local_stack.api_url, "--api-key", API_KEY]

    succeeded = main(["jobs", "submit", "demo", "--input", '{"steps": 2, "stepSeconds": 0}', "--wait", *flags])
    out = capsys.readouterr().out
    failed = main(["jobs", "submit", "demo", "--input", '{"steps": 1, "failAtStep": 1}', "--wait", *flags])
    failure = capsys.readouterr().out

    assert succeeded == 0
    assert re.search(r"job_\w+  100%  succeeded\n", out)  # stdout is not a terminal: plain lines
    assert "succeeded; `jobgate jobs result" in out
    assert failed == EXIT_FAILED
    assert "failed: DemoStepFailed (step step-1)" in failure


def test_the_cli_reads_the_api_from_the_environment(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBGATE_API_URL", local_stack.api_url)
    monkeypatch.setenv("JOBGATE_API_KEY", API_KEY)

    assert main(["jobs", "get", "job_01JDZZZZZZZZZZZZZZZZZZZZZZ"]) == 1
    assert "404" in capsys.readouterr().err
    monkeypatch.setenv("JOBGATE_API_KEY", "jg_not-a-key")
    assert main(["jobs", "list"]) == 1
    assert "401" in capsys.readouterr().err


def _section(title: str) -> str:
    text = DOCS.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)


def test_the_python_client_examples_in_docs_clients_md_run(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JOBGATE_API_URL", local_stack.api_url)
    monkeypatch.setenv("JOBGATE_API_KEY", API_KEY)
    monkeypatch.chdir(tmp_path)
    blocks = _blocks(_section("The Python client"), "python")
    printed = io.StringIO()

    with contextlib.redirect_stdout(printed):
        exec("\n".join(blocks), {"__name__": "docs_clients_md"})  # the documentation's own code

    out = printed.getvalue()
    assert len(blocks) >= 6
    assert "succeeded {'steps': 3" in out
    assert "DemoStepFailed step-1" in out
    assert "422 #/input/steps" in out
    assert (tmp_path / "big-result.json").stat().st_size > 100_000
    assert "\n1\n" in out  # the uploaded file's one row was loaded


def test_the_command_line_examples_in_docs_clients_md_run(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each `$ ` line as a shell would run it; the forms the section uses are the only ones known,
    so a line in another form fails here rather than going untested."""
    monkeypatch.setenv("JOBGATE_API_URL", local_stack.api_url)
    monkeypatch.setenv("JOBGATE_API_KEY", API_KEY)
    monkeypatch.chdir(tmp_path)
    variables: dict[str, str] = {}
    lines = [line[2:] for block in _blocks(_section("The command line"), "console") for line in block.splitlines()]

    for line in lines:
        line = re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], line)
        if line.startswith("export JOBGATE_"):
            continue  # the test's stack, not the documented port
        if echo := re.fullmatch(r"echo '(.*)' > (\S+)", line):
            Path(echo.group(2)).write_text(echo.group(1) + "\n")
        elif assigned := re.fullmatch(r"(\w+)=\$\((jobgate .*)\)", line):
            capsys.readouterr()
            assert main(shlex.split(assigned.group(2), comments=True)[1:]) == 0, line
            variables[assigned.group(1)] = capsys.readouterr().out.strip()
        else:
            assert line.startswith("jobgate "), f"a command form the test does not know: {line}"
            assert main(shlex.split(line, comments=True)[1:]) == 0, line

    out = capsys.readouterr().out
    assert json.loads((tmp_path / "result.json").read_text())["steps"] == 2
    assert f"{variables['ID']} had ended: purged" in out
