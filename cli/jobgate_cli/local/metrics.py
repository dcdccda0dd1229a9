"""The functions' metrics without CloudWatch: their EMF lines, read from their stdout and summed.

On AWS, CloudWatch Logs turns each embedded metric format (EMF) line a function prints into
metric data. Here the runtime hands every line of the functions' stdout to `LocalMetrics`, which
keeps, per metric and set of dimension values, what CloudWatch's statistics would show over the
stack's life: sample count, sum, minimum, maximum. `GET /_local/metrics` on the local HTTP API
answers it as JSON (docs/local-stack.md); the functions themselves do nothing differently.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Final

from jobgate.timeutil import to_rfc3339, utc_now

PATH: Final = "/_local/metrics"
# Powertools writes the EMF object's `_aws` key first: other lines are skipped without parsing.
_EMF_PREFIX: Final = b'{"_aws":'


def is_not_emf(line: bytes) -> bool:
    """For the console: a metrics line is for the page, not for the developer's eyes."""
    return not line.startswith(_EMF_PREFIX)


@dataclass
class _Statistics:
    unit: str
    samples: int = 0
    sum: float = 0.0
    minimum: float = float("inf")
    maximum: float = float("-inf")

    def add(self, value: float) -> None:
        self.samples += 1
        self.sum += value
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)


# (namespace, metric name, ((dimension, value), ...))
_Key = tuple[str, str, tuple[tuple[str, str], ...]]


class LocalMetrics:
    """Thread-safe; `on_function_line` is a runtime line listener."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._statistics: dict[_Key, _Statistics] = {}
        self._since = to_rfc3339(utc_now())

    def on_function_line(self, function_name: str, line: bytes) -> None:
        if is_not_emf(line):
            return
        try:
            document = json.loads(line)
            directives = document["_aws"]["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            return  # not EMF after all: CloudWatch would not make a metric of it either
        with self._lock:
            for directive in directives:
                for dimension_set in directive.get("Dimensions", [[]]):
                    dimensions = tuple((name, str(document.get(name, ""))) for name in sorted(dimension_set))
                    for definition in directive.get("Metrics", []):
                        self._add(directive.get("Namespace", ""), definition, dimensions, document)

    def _add(
        self, namespace: str, definition: dict[str, Any], dimensions: tuple[tuple[str, str], ...], document: Any
    ) -> None:
        name = str(definition.get("Name", ""))
        values = document.get(name)
        values = values if isinstance(values, list) else [values]
        key = (namespace, name, dimensions)
        statistics = self._statistics.setdefault(key, _Statistics(str(definition.get("Unit", "None"))))
        for value in values:
            if isinstance(value, int | float):
                statistics.add(float(value))

    def snapshot(self) -> dict[str, Any]:
        """Every metric seen since the stack started, sorted by namespace, name and dimensions."""
        with self._lock:
            items = sorted(self._statistics.items())
        return {
            "since": self._since,
            "metrics": [
                {
                    "namespace": namespace,
                    "name": name,
                    "dimensions": dict(dimensions),
                    "unit": statistics.unit,
                    "samples": statistics.samples,
                    "sum": statistics.sum,
                    "minimum": statistics.minimum if statistics.samples else None,
                    "maximum": statistics.maximum if statistics.samples else None,
                    "average": statistics.sum / statistics.samples if statistics.samples else None,
                }
                for (namespace, name, dimensions), statistics in items
            ],
        }

    def summary_line(self) -> str:
        """One line for the console: each metric's sum (counts) or average (times), by dimension values."""
        parts = []
        for metric in self.snapshot()["metrics"]:
            labels = ",".join(value for name, value in metric["dimensions"].items() if name != "service")
            label = f"{metric['name']}{{{labels}}}" if labels else metric["name"]
            if metric["unit"] == "Count":
                parts.append(f"{label}={metric['sum']:g}")
            else:
                parts.append(f"{label}~{metric['average']:.3g} {metric['unit'].lower()}")
        return "metrics: " + ("  ".join(parts) if parts else "none yet")
