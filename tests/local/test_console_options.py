"""`jobgate local`'s concurrency option: flag, environment variable, and its bound."""

from __future__ import annotations

import pytest

from jobgate_cli.errors import CliError
from jobgate_cli.local.runtime import DEFAULT_CONCURRENCY
from jobgate_cli.main import build_parser


def test_concurrency_defaults_to_the_runtimes_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOBGATE_CONCURRENCY", raising=False)
    assert build_parser().parse_args(["local"]).concurrency == DEFAULT_CONCURRENCY


def test_concurrency_comes_from_the_flag_or_jobgate_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBGATE_CONCURRENCY", "7")
    assert build_parser().parse_args(["local"]).concurrency == 7
    assert build_parser().parse_args(["local", "--concurrency", "3"]).concurrency == 3


def test_a_concurrency_below_one_is_refused_before_anything_starts() -> None:
    args = build_parser().parse_args(["local", "--concurrency", "0"])
    with pytest.raises(CliError, match="--concurrency must be at least 1"):
        args.run(args)
