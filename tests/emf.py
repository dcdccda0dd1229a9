"""Reading the EMF lines functions print: what CloudWatch would make metrics of."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Datum:
    """One metric of one EMF line: its name, unit, dimensions (name -> value) and values."""

    namespace: str
    name: str
    unit: str
    dimensions: dict[str, str]
    values: list[float]


def emf_lines(output: str) -> list[dict[str, Any]]:
    lines = []
    for line in output.splitlines():
        if line.startswith('{"_aws"'):
            lines.append(json.loads(line))
    return lines


def data(output: str) -> list[Datum]:
    found = []
    for line in emf_lines(output):
        for directive in line["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = {name: line[name] for name in dimension_set}
                for metric in directive["Metrics"]:
                    value = line[metric["Name"]]
                    values = value if isinstance(value, list) else [value]
                    found.append(Datum(directive["Namespace"], metric["Name"], metric["Unit"], dimensions, values))
    return found


def total(output: str, name: str, **dimensions: str) -> float:
    """The sum of `name`'s values whose dimensions are exactly `service=jobgate` plus `dimensions`."""
    wanted = {"service": "jobgate", **dimensions}
    return sum(sum(d.values) for d in data(output) if d.name == name and d.dimensions == wanted)


def names(output: str) -> set[str]:
    return {datum.name for datum in data(output)}
