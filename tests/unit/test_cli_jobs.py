"""`jobgate jobs`: where the API URL and key come from, the plain-line progress, the exit codes.
The commands against the local stack: tests/e2e/test_clients_e2e.py."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses

from jobgate.domain.models import JobError, JobState, Progress, Step, StepStatus
from jobgate.domain.status import JobStatus
from jobgate_cli.api_settings import ApiSettings, resolve_api_settings
from jobgate_cli.errors import CliError
from jobgate_cli.jobs import EXIT_CANCELLED, EXIT_FAILED, EXIT_TIMED_OUT
from jobgate_cli.main import main
from jobgate_cli.progress import PlainLines, job_display
from jobgate_client import Job

API = "http://jobgate.test"
JOB_ID = "job_01JDZZZZZZZZZZZZZZZZZZZZZZ"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "profile.toml"
    path.write_text('api_url = "http://from-profile:3000"\napi_key = "jg_profile"\n')
    return path


def test_flags_win_over_the_environment_and_the_profile(profile: Path) -> None:
    environ = {"JOBGATE_API_URL": "http://from-env", "JOBGATE_API_KEY": "jg_env", "JOBGATE_PROFILE": str(profile)}

    assert resolve_api_settings("http://from-flag", "jg_flag", environ) == ApiSettings("http://from-flag", "jg_flag")


def test_the_environment_wins_over_the_profile_one_value_at_a_time(profile: Path) -> None:
    environ = {"JOBGATE_API_KEY": "jg_env", "JOBGATE_PROFILE": str(profile)}

    assert resolve_api_settings(None, None, environ) == ApiSettings("http://from-profile:3000", "jg_env")


def test_the_profile_is_found_under_xdg_config_home(tmp_path: Path, profile: Path) -> None:
    (tmp_path / "jobgate").mkdir()
    profile.rename(tmp_path / "jobgate" / "profile.toml")

    settings = resolve_api_settings(None, "jg_flag", {"XDG_CONFIG_HOME": str(tmp_path)})

    assert settings == ApiSettings("http://from-profile:3000", "jg_flag")


def test_nothing_set_is_an_error_naming_every_place_looked(tmp_path: Path) -> None:
    with pytest.raises(CliError) as caught:
        resolve_api_settings(None, None, {"XDG_CONFIG_HOME": str(tmp_path)})

    message = str(caught.value)
    for place in ("--api-url", "JOBGATE_API_URL", "--api-key", "JOBGATE_API_KEY", str(tmp_path / "jobgate")):
        assert place in message


def test_a_profile_that_is_not_toml_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "profile.toml"
    bad.write_text("api_url = http://no-quotes\n")

    with pytest.raises(CliError, match="not valid TOML"):
        resolve_api_settings(None, None, {"JOBGATE_PROFILE": str(bad)})


def test_main_without_settings_exits_2_with_the_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("JOBGATE_API_URL", "JOBGATE_API_KEY", "JOBGATE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))

    assert main(["jobs", "get", JOB_ID]) == 2
    assert "set the API URL" in capsys.readouterr().err


def test_input_that_is_not_json_exits_2_before_any_request(capsys: pytest.CaptureFixture[str]) -> None:
    with responses.RequestsMock():  # any request would fail the test: none is registered
        code = main(["jobs", "submit", "demo", "--input", "{steps: 5}", "--api-url", API, "--api-key", "k"])

    assert code == 2
    assert "--input is not JSON" in capsys.readouterr().err


def job(status: JobStatus, percent: int = 0, step: int | None = None, **fields: Any) -> Job:
    steps = [
        Step(name=f"step-{i}", status=StepStatus.SUCCEEDED if i < (step or 0) else StepStatus.RUNNING)
        for i in range(1, (step or 0) + 1)
    ]
    eta = T0 + timedelta(seconds=8) if status is JobStatus.RUNNING else None
    state = JobState(
        id=JOB_ID,
        type="demo",
        status=status,
        progress=Progress(percent=percent, steps=steps, eta=eta),
        created_at=T0,
        updated_at=T0,
        **fields,
    )
    return Job.from_json(state.to_resource().to_json_dict())


def test_plain_lines_print_one_line_per_visible_change() -> None:
    out = io.StringIO()
    lines = PlainLines(out, now=lambda: T0)

    for seen in (
        job(JobStatus.QUEUED),
        job(JobStatus.RUNNING, 20, step=1),
        job(JobStatus.RUNNING, 20, step=1),  # nothing new to show
        job(JobStatus.RUNNING, 40, step=2),
        job(JobStatus.SUCCEEDED, 100, step=2),
    ):
        lines.show(seen)

    assert out.getvalue().splitlines() == [
        f"{JOB_ID}    0%  queued",
        f"{JOB_ID}   20%  running step-1  eta 8s",
        f"{JOB_ID}   40%  running step-2  eta 8s",
        f"{JOB_ID}  100%  succeeded",
    ]


def test_a_stream_that_is_not_a_terminal_gets_plain_lines() -> None:
    assert isinstance(job_display(io.StringIO()), PlainLines)


@pytest.mark.parametrize(
    ("ended", "code"),
    [
        (
            job(JobStatus.FAILED, error=JobError(type="DemoStepFailed", title="Step step-2 failed.", detail="x")),
            EXIT_FAILED,
        ),
        (job(JobStatus.FAILED, error=JobError(type="execution-timed-out", title="t", detail="late")), EXIT_TIMED_OUT),
        (job(JobStatus.CANCELLED), EXIT_CANCELLED),
    ],
)
def test_watch_exits_with_the_code_of_how_the_job_ended(
    ended: Job, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with responses.RequestsMock() as api:
        api.get(f"{API}/jobs/{JOB_ID}", json=ended.raw, headers={"ETag": '"e.9"'})

        assert main(["jobs", "watch", JOB_ID, "--api-url", API, "--api-key", "k"]) == code

    out = capsys.readouterr().out
    assert f"{JOB_ID} {ended.status}" in out
    if ended.error:
        assert ended.error.type in out
