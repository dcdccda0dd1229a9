"""DynamoDB capacity of the functions' calls, for the meter (`jobgate local --meter`).

The local stack preloads `jobgate_cli.billing.capacity_in_functions` into its functions'
zygote when it meters. That registers two botocore handlers on every session made afterwards
(as faults.py does): one asks each DynamoDB call for its consumed capacity
(`ReturnConsumedCapacity=INDEXES`, unless the caller chose), the other appends what the call
consumed to the file `JOBGATE_METER_CAPACITY_RECORD`, one JSON line per call:
`{"function": ..., "operation": ..., "capacity": {table: units}}`. The stack reads the file
(`CapacityRecord`) and bills the units. The functions' code is unchanged, and DynamoDB Local
computes the units by DynamoDB's rules (tests/local/test_billing_dynamodb.py), except a
transaction's table units, which are sized from its items (`units.transaction_capacity`).

A call DynamoDB refuses (a failed condition, a cancelled transaction) returns no capacity, so
it is not counted, though DynamoDB bills the write it attempted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jobgate_cli.billing import units

CAPACITY_RECORD_VARIABLE: Final = "JOBGATE_METER_CAPACITY_RECORD"
CAPACITY_PRELOAD: Final = "jobgate_cli.billing.capacity_in_functions"
_METERED_OPERATIONS: Final = units.WRITE_OPERATIONS | units.READ_OPERATIONS


_TRANSACTION: Final = "jobgate_meter_transact_items"


def ask_for_capacity(params: dict[str, Any], model: Any, context: dict[str, Any] | None = None, **_: Any) -> None:
    """botocore `before-parameter-build.dynamodb`: every read and write returns its ConsumedCapacity.

    A transaction's items are kept in the request's context: its units are sized from them.
    """
    if model.name in _METERED_OPERATIONS:
        params.setdefault("ReturnConsumedCapacity", "INDEXES")
    if model.name == "TransactWriteItems" and context is not None:
        context[_TRANSACTION] = params.get("TransactItems", [])


class CapacityAppender:
    """botocore `after-call.dynamodb`: one line per call that consumed capacity, in `path`."""

    def __init__(self, path: str, environment: Mapping[str, str] = os.environ) -> None:
        self._path = path
        self._environment = environment

    def __call__(
        self, parsed: Mapping[str, Any], model: Any, context: Mapping[str, Any] | None = None, **_: Any
    ) -> None:
        consumed = parsed.get("ConsumedCapacity")
        if model.name == "TransactWriteItems" and consumed and context and _TRANSACTION in context:
            capacity = units.transaction_capacity(context[_TRANSACTION], consumed)
        else:
            capacity = units.dynamodb_capacity(model.name, consumed)
        if not capacity:
            return
        line = json.dumps(
            {
                "function": self._environment.get("AWS_LAMBDA_FUNCTION_NAME", ""),
                "operation": model.name,
                "capacity": capacity,
            }
        )
        # One short O_APPEND write per call: lines from many worker processes do not mix.
        with open(self._path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def install(environment: Mapping[str, str] = os.environ) -> CapacityAppender | None:
    """Register the handlers on every botocore session made from now on (botocore's built-ins)."""
    path = environment.get(CAPACITY_RECORD_VARIABLE)
    if not path:
        return None
    from botocore import handlers

    appender = CapacityAppender(path, environment)
    handlers.BUILTIN_HANDLERS.append(("before-parameter-build.dynamodb", ask_for_capacity))
    handlers.BUILTIN_HANDLERS.append(("after-call.dynamodb", appender))
    return appender


@dataclass(frozen=True)
class ConsumedCapacity:
    function: str
    operation: str
    capacity: dict[str, float]  # units by table

    @property
    def is_write(self) -> bool:
        return units.is_write(self.operation)


class CapacityRecord:
    """Reads the lines the functions appended since the last read (whole lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        path.write_text("")

    def read_new(self) -> Iterator[ConsumedCapacity]:
        with self.path.open("rb") as record:
            record.seek(self._offset)
            data = record.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode().splitlines():
            entry = json.loads(line)
            yield ConsumedCapacity(str(entry["function"]), str(entry["operation"]), dict(entry["capacity"]))
