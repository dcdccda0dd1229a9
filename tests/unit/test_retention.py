from __future__ import annotations

from datetime import timedelta

import pytest

from jobgate.domain.retention import InvalidDuration, RetentionPolicy, parse_iso_duration

POLICY = RetentionPolicy(default=timedelta(days=7), minimum=timedelta(hours=1), maximum=timedelta(days=90))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P7D", timedelta(days=7)),
        ("PT12H", timedelta(hours=12)),
        ("P1DT6H", timedelta(days=1, hours=6)),
        ("P2W", timedelta(weeks=2)),
        ("PT90M", timedelta(minutes=90)),
    ],
)
def test_iso_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_iso_duration(text) == expected


@pytest.mark.parametrize("text", ["7 days", "7D", "", "P", "PT", "PXD", "3600", "P1M", "P1Y", "PT1.5H"])
def test_non_durations_are_refused(text: str) -> None:
    with pytest.raises(InvalidDuration):
        parse_iso_duration(text)


def test_no_request_means_the_default() -> None:
    assert POLICY.resolve(None) == timedelta(days=7)


@pytest.mark.parametrize("text", ["PT59M", "P91D"])
def test_retention_outside_the_bounds_is_refused_with_the_bounds_named(text: str) -> None:
    with pytest.raises(InvalidDuration, match="PT1H to P90D"):
        POLICY.resolve(text)
