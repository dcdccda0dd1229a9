"""JobTypeSettings: the base of every job type's own settings, read through jobgate.config's environment seam."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict

from jobgate.config import current_environment


class JobTypeSettings(BaseModel):
    """Subclasses declare their fields with the environment variable as alias."""

    model_config = ConfigDict(frozen=True)

    @classmethod
    def from_environment(cls) -> Self:
        return cls.model_validate(dict(current_environment()))
