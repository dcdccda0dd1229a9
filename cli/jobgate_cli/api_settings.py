"""Which API and key `jobgate jobs` uses: the flags, else the environment, else the profile file."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jobgate_cli.errors import CliError

URL_VARIABLE = "JOBGATE_API_URL"
KEY_VARIABLE = "JOBGATE_API_KEY"
PROFILE_VARIABLE = "JOBGATE_PROFILE"


def default_profile_path(environ: Mapping[str, str]) -> Path:
    """$JOBGATE_PROFILE, else $XDG_CONFIG_HOME/jobgate/profile.toml (~/.config/jobgate/profile.toml)."""
    if environ.get(PROFILE_VARIABLE):
        return Path(environ[PROFILE_VARIABLE])
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "jobgate" / "profile.toml"


@dataclass(frozen=True)
class ApiSettings:
    api_url: str
    api_key: str


def resolve_api_settings(
    api_url: str | None, api_key: str | None, environ: Mapping[str, str] = os.environ
) -> ApiSettings:
    """Each of the two from the first place that has it: flag, environment, profile file."""
    path = default_profile_path(environ)
    profile = _read_profile(path)
    url = api_url or environ.get(URL_VARIABLE) or profile.get("api_url")
    key = api_key or environ.get(KEY_VARIABLE) or profile.get("api_key")
    if not url or not key:
        needed = [f"the API URL (--api-url, {URL_VARIABLE}, or api_url in {path})"] if not url else []
        needed += [f"the API key (--api-key, {KEY_VARIABLE}, or api_key in {path})"] if not key else []
        raise CliError(f"set {' and '.join(needed)}; `jobgate local` prints the line that sets both")
    return ApiSettings(api_url=url, api_key=key)


def _read_profile(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise CliError(f"cannot read the profile file {path}: {error}") from None
    try:
        profile = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CliError(f"the profile file {path} is not valid TOML: {error}") from None
    values = {name: profile.get(name) for name in ("api_url", "api_key")}
    wrong = [name for name, value in values.items() if value is not None and not isinstance(value, str)]
    if wrong:
        raise CliError(f"the profile file {path}: {', '.join(wrong)} must be a string")
    return {name: value for name, value in values.items() if isinstance(value, str) and value}
