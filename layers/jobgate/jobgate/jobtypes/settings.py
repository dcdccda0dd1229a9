"""JobTypeSettings: the base of every job type's own settings, read like the core ones."""

from __future__ import annotations

from jobgate.config import EnvironmentSettings


class JobTypeSettings(EnvironmentSettings):
    """A job type's settings: fields with the environment variable as alias (template.yaml sets them)."""
