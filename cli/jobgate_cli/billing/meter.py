"""The meter: billable units counted during a run, priced from the one price table.

Whoever observes a billable call (the local stack's API, runtime and AWS endpoints) adds
its units with `add`, naming what spent them (a function, a table, a state machine). The
bill is the units times jobgate_cli.billing.prices.PRICES, by unit and by what spent them.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from jobgate_cli.billing.prices import PRICES, Price, Unit


@dataclass(frozen=True)
class BillLine:
    unit: Unit
    spent_by: str
    quantity: float
    dollars: float


@dataclass(frozen=True)
class Bill:
    lines: tuple[BillLine, ...]

    @property
    def dollars(self) -> float:
        return sum(line.dollars for line in self.lines)

    def dollars_by_unit(self) -> dict[Unit, float]:
        totals: dict[Unit, float] = defaultdict(float)
        for line in self.lines:
            totals[line.unit] += line.dollars
        return dict(totals)

    def per_million(self, jobs: int) -> float:
        """Dollars per million jobs, when the bill is that of `jobs` jobs."""
        if jobs < 1:
            raise ValueError("a bill per million jobs needs at least one job")
        return self.dollars / jobs * 1e6


class Meter:
    """Thread-safe counters of billable units, by unit and by what spent them."""

    def __init__(self, prices: Mapping[Unit, Price] = PRICES) -> None:
        self._prices = prices
        self._lock = threading.Lock()
        self._quantities: dict[tuple[Unit, str], float] = defaultdict(float)

    def add(self, unit: Unit, quantity: float, spent_by: str) -> None:
        if quantity < 0:
            raise ValueError(f"a negative quantity of {unit}: {quantity}")
        with self._lock:
            self._quantities[(unit, spent_by)] += quantity

    def quantity(self, unit: Unit, spent_by: str | None = None) -> float:
        with self._lock:
            return sum(q for (u, by), q in self._quantities.items() if u is unit and spent_by in (None, by))

    def bill(self) -> Bill:
        with self._lock:
            counted = sorted(self._quantities.items(), key=lambda entry: (entry[0][0].value, entry[0][1]))
        return Bill(
            tuple(
                BillLine(unit, spent_by, quantity, quantity * self._prices[unit].dollars_per_unit)
                for (unit, spent_by), quantity in counted
            )
        )

    def reset(self) -> None:
        with self._lock:
            self._quantities.clear()
