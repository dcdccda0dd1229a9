"""`jobgate tenants create`: prints a working API key and a webhook secret."""

from __future__ import annotations

import json

import pytest

from jobgate_cli.main import main
from tests.api import ApiClient
from tests.conftest import TENANTS_TABLE


def test_create_prints_a_key_that_authenticates(aws_backend: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenants", "create", "initech", "--table", TENANTS_TABLE, "--json"]) == 0
    credentials = json.loads(capsys.readouterr().out)
    assert credentials["tenant"] == "initech"
    assert credentials["webhookSecret"].startswith("whsec_")
    assert ApiClient(credentials["apiKey"]).get("/jobs").status == 200


def test_the_human_output_names_both_secrets(aws_backend: None, capsys: pytest.CaptureFixture[str]) -> None:
    main(["tenants", "create", "initech", "--table", TENANTS_TABLE])
    out = capsys.readouterr().out
    assert "API key:         jg_" in out
    assert "Webhook secret:  whsec_" in out


def test_a_taken_name_is_refused(aws_backend: None, capsys: pytest.CaptureFixture[str]) -> None:
    main(["tenants", "create", "initech", "--table", TENANTS_TABLE])
    assert main(["tenants", "create", "initech", "--table", TENANTS_TABLE]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_bad_name_is_refused(aws_backend: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenants", "create", "Not Valid", "--table", TENANTS_TABLE]) == 2
    assert "not a valid tenant name" in capsys.readouterr().err


def test_help_describes_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tenants", "create", "--help"])
    assert exited.value.code == 0
    assert "cannot be shown again" in " ".join(capsys.readouterr().out.split())
