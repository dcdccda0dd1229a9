"""Retention: how long a finished job (and its result) stays readable."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from pydantic import ConfigDict, TypeAdapter, ValidationError

_DURATION = TypeAdapter(timedelta, config=ConfigDict(defer_build=True))  # built when first used: jobgate.lazy.LazyModel
# Weeks, days and clock units only: years and months have no fixed length, and
# pydantic would quietly read P1M as 30 days.
_FIXED_LENGTH_DURATION = re.compile(r"^P(?=\d|T\d)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")


class InvalidDuration(ValueError):
    pass


def parse_iso_duration(text: str) -> timedelta:
    """ISO 8601 durations in weeks, days, hours, minutes, seconds (P7D, PT12H, P1DT6H)."""
    if not _FIXED_LENGTH_DURATION.match(text):
        raise InvalidDuration(
            f"{text!r} is not an ISO 8601 duration in weeks/days/hours/minutes/seconds (e.g. P7D, PT12H)."
        )
    try:
        return _DURATION.validate_python(text)
    except ValidationError as error:
        raise InvalidDuration(
            f"{text!r} is not an ISO 8601 duration in days/hours/minutes/seconds (e.g. P7D, PT12H)."
        ) from error


@dataclass(frozen=True)
class RetentionPolicy:
    default: timedelta
    minimum: timedelta
    maximum: timedelta

    def resolve(self, requested: str | None) -> timedelta:
        """The retention for a job, or InvalidDuration when the request is out of bounds."""
        if requested is None:
            return self.default
        duration = parse_iso_duration(requested)
        if not self.minimum <= duration <= self.maximum:
            raise InvalidDuration(
                f"retention {requested} is outside the allowed range {_iso(self.minimum)} to {_iso(self.maximum)}."
            )
        return duration


def _iso(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time_part = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if v)
    return "P" + (f"{days}D" if days else "") + (f"T{time_part}" if time_part else "") if seconds else "PT0S"
