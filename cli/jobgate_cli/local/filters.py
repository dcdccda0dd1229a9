"""Lambda event filtering (FilterCriteria) for the local event source mappings.

Lambda filter rules are EventBridge patterns, so this reuses moto's EventBridge matcher
(moto.events.models.EventPattern: exact values, prefix, suffix, anything-but, numeric,
exists, equals-ignore-case, wildcard, $or, nested keys). A record is delivered when any one
of the filters matches it; Lambda drops the others without invoking the function.

As on AWS, DynamoDB numbers arrive as strings ({"N": "5"}), so a "numeric" rule never matches
a DynamoDB attribute value; it does match JSON numbers such as dynamodb.SizeBytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from moto.events.models import EventPattern

from jobgate_cli.local.event_sources import UnsupportedMappingProperty

# Lambda's default quota is 5 filters per mapping, raisable to 10.
MAX_FILTERS: Final = 10


class RecordFilter:
    """Lambda's FilterCriteria: a record passes when it matches any pattern (or there are none)."""

    def __init__(self, patterns: Sequence[str]) -> None:
        if len(patterns) > MAX_FILTERS:
            raise UnsupportedMappingProperty(f"at most {MAX_FILTERS} filters are allowed, got {len(patterns)}")
        self._patterns = [_load_pattern(pattern) for pattern in patterns]

    def matches(self, record: Mapping[str, Any]) -> bool:
        if not self._patterns:
            return True
        # moto types the argument as an EventBridge envelope; the matcher itself takes any JSON object.
        event: Any = dict(record)
        return any(pattern.matches_event(event) for pattern in self._patterns)


def filter_patterns(properties: Mapping[str, Any]) -> tuple[str, ...]:
    """The Pattern strings of a template event's FilterCriteria ({"Filters": [{"Pattern": "..."}]}), validated."""
    criteria = properties.get("FilterCriteria") or {}
    if not isinstance(criteria, Mapping):
        raise UnsupportedMappingProperty("FilterCriteria must be an object with Filters")
    patterns: list[str] = []
    for entry in criteria.get("Filters") or []:
        pattern = entry.get("Pattern") if isinstance(entry, Mapping) else None
        if not isinstance(pattern, str):
            # CloudFormation takes the pattern as a JSON string, so a YAML mapping here would fail to deploy too.
            raise UnsupportedMappingProperty(f"each filter needs a Pattern string, got {entry!r}")
        patterns.append(pattern)
    RecordFilter(patterns)
    return tuple(patterns)


def _load_pattern(pattern: str) -> EventPattern:
    try:
        parsed = json.loads(pattern)
    except json.JSONDecodeError as error:
        raise UnsupportedMappingProperty(f"filter pattern is not JSON: {pattern!r}") from error
    if not isinstance(parsed, dict):
        raise UnsupportedMappingProperty(f"filter pattern must be a JSON object: {pattern!r}")
    try:
        return EventPattern.load(pattern)
    except Exception as error:
        # moto raises its own HTTP error type for an invalid pattern; callers expect a ValueError.
        raise UnsupportedMappingProperty(f"invalid filter pattern {pattern!r}: {error}") from error
