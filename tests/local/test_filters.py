"""Lambda FilterCriteria: which records a mapping delivers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobgate_cli.local.event_sources import UnsupportedMappingProperty
from jobgate_cli.local.filters import RecordFilter, filter_patterns


def stream_record(event_name: str = "INSERT", **new_image: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {"Keys": {"id": {"S": "job-1"}}, "NewImage": new_image, "SizeBytes": 120},
    }


def matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    return RecordFilter([json.dumps(pattern)]).matches(record)


FAILED = stream_record(status={"S": "failed"}, tenant={"S": "acme-eu"}, attempts={"N": "3"})
RUNNING = stream_record(status={"S": "running"}, tenant={"S": "globex"})


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"dynamodb": {"NewImage": {"status": {"S": ["failed"]}}}}, [True, False]),
        ({"dynamodb": {"NewImage": {"tenant": {"S": [{"prefix": "acme-"}]}}}}, [True, False]),
        ({"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["failed"]}]}}}}, [False, True]),
        ({"dynamodb": {"NewImage": {"attempts": {"N": [{"exists": True}]}}}}, [True, False]),
        ({"dynamodb": {"NewImage": {"attempts": {"N": [{"exists": False}]}}}}, [False, True]),
        ({"dynamodb": {"SizeBytes": [{"numeric": [">", 100, "<=", 200]}]}}, [True, True]),
        ({"dynamodb": {"SizeBytes": [{"numeric": ["<", 100]}]}}, [False, False]),
        ({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["running"]}}}}, [False, True]),
    ],
)
def test_pattern_operators_select_records(pattern: dict[str, Any], expected: list[bool]) -> None:
    assert [matches(pattern, FAILED), matches(pattern, RUNNING)] == expected


def test_numeric_rules_do_not_match_dynamodb_numbers_which_are_strings() -> None:
    assert not matches({"dynamodb": {"NewImage": {"attempts": {"N": [{"numeric": [">", 1]}]}}}}, FAILED)


def test_a_record_passes_when_any_filter_matches() -> None:
    either = RecordFilter(
        [
            json.dumps({"dynamodb": {"NewImage": {"status": {"S": ["failed"]}}}}),
            json.dumps({"eventName": ["REMOVE"]}),
        ]
    )

    assert either.matches(FAILED)
    assert either.matches(stream_record("REMOVE"))
    assert not either.matches(RUNNING)


def test_no_filters_pass_everything() -> None:
    assert RecordFilter([]).matches(RUNNING)


def test_filter_criteria_are_read_from_the_template_and_validated() -> None:
    pattern = '{"eventName": ["INSERT"]}'

    assert filter_patterns({"FilterCriteria": {"Filters": [{"Pattern": pattern}]}}) == (pattern,)
    assert filter_patterns({}) == ()
    for bad in ("not json", '["a list"]', '{"eventName": "not a list"}'):
        with pytest.raises(UnsupportedMappingProperty):
            filter_patterns({"FilterCriteria": {"Filters": [{"Pattern": bad}]}})
    with pytest.raises(UnsupportedMappingProperty):
        filter_patterns({"FilterCriteria": {"Filters": [{"Pattern": {"eventName": ["INSERT"]}}]}})
