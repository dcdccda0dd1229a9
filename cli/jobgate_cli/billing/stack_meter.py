"""The meter of a running local stack: each billable unit, counted where the stack sees it.

- API Gateway: each request the local HTTP API answers, per 512 KB of request and response body;
- Lambda: each invocation of the runtime (LambdaBilling), and the bytes the functions write
  to stdout and stderr (CloudWatch Logs ingests them);
- Step Functions: each ended execution, by its state machine's Type in the template: a
  Standard one's transitions from its history, an Express one's request and duration;
- SQS and S3: each request moto answers (the event source mappings' polling included), per
  64 KB of SQS payload; S3 by price tier;
- DynamoDB: the ConsumedCapacity of the functions' calls (capacity_hook.py). DynamoDB
  Streams reads by Lambda triggers and TTL deletes are free, and not counted.

What a scheduled function spends (the sweeper's `rate(1 minute)`) is a fixed cost per month,
not a cost per job: it goes to a meter of its own, and `reading()` turns its average run into
a month of runs. So does the polling of an idle queue by an SQS event source mapping, which
is not measured (the local pollers wait less than Lambda's) but modelled: Lambda keeps
SQS_IDLE_POLLERS long polls of 20 s on each queue.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jobgate_cli.billing.capacity_hook import CapacityRecord
from jobgate_cli.billing.meter import Bill, Meter
from jobgate_cli.billing.observed import LambdaBilling, state_transitions
from jobgate_cli.billing.prices import PRICES, PRICES_AS_OF, Unit
from jobgate_cli.billing.units import api_requests, express_gb_seconds, s3_request_tier, sqs_requests
from jobgate_cli.local.event_sources import BackgroundLoop, boolean_property
from jobgate_cli.local.moto_endpoint import AwsCall
from jobgate_cli.local.runtime import InvocationRecord
from jobgate_cli.local.schedules import rate_seconds
from jobgate_cli.local.template_model import LocalFunction, LocalStateMachine

MONTH_SECONDS: Final = 730 * 3600  # AWS prices a month as 730 hours
# Lambda polls an SQS queue with five concurrent long polls to begin with, each waiting 20 s.
SQS_IDLE_POLLERS: Final = 5
SQS_LONG_POLL_SECONDS: Final = 20
# Express bills memory in 64 MB steps from the definition and payload sizes, which jobgate's
# workflows keep far below 64 MB: the first step.
EXPRESS_MEMORY_MB: Final = 64
HTTP_API: Final = "HTTP API"


@dataclass(frozen=True)
class FixedCost:
    """A cost per month, whatever the number of jobs."""

    what: str
    dollars_per_month: float | None  # None: not measured (no scheduled run during the metering)
    how: str


@dataclass(frozen=True)
class MeterReading:
    work: Bill  # everything but the fixed costs
    fixed: tuple[FixedCost, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "prices_as_of": PRICES_AS_OF,
            "dollars": self.work.dollars,
            "by_service": by_service(self.work),
            "lines": [
                {"service": line.unit.service, "unit": line.unit.value, "spent_by": line.spent_by}
                | {"quantity": line.quantity, "dollars": line.dollars}
                for line in self.work.lines
            ],
            "fixed_per_month": [
                {"what": cost.what, "dollars": cost.dollars_per_month, "how": cost.how} for cost in self.fixed
            ],
        }


def by_service(bill: Bill) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in bill.lines:
        totals[line.unit.service] = totals.get(line.unit.service, 0.0) + line.dollars
    return totals


class StackMeter:
    """Thread-safe; its `on_*` methods are the stack's listeners."""

    def __init__(
        self, functions: Iterable[LocalFunction], state_machines: Iterable[LocalStateMachine], capacity_record: Path
    ) -> None:
        functions = list(functions)
        self._runs_per_month = {f.function_name: runs_per_month(f) for f in functions if runs_per_month(f)}
        self._scheduled = {name: Meter() for name in self._runs_per_month}
        self._runs: Counter[str] = Counter()
        self._sqs_mappings = sorted(f"{f.logical_id}.{event}" for f in functions for event in f.events_of_type("SQS"))
        self._machine_types = {machine.arn: machine.machine_type.upper() for machine in state_machines}
        self.work = Meter()
        self._lambda = LambdaBilling(self.meter_of, {f.function_name: f.memory_mb for f in functions})
        self._capacity = CapacityRecord(capacity_record)
        self._lock = threading.Lock()

    @property
    def capacity_record(self) -> Path:
        return self._capacity.path

    def meter_of(self, function_name: str) -> Meter:
        return self._scheduled.get(function_name, self.work)

    # ------------------------------------------------------------ listeners

    def on_invocation(self, record: InvocationRecord) -> None:
        if record.function_name in self._scheduled and record.error_type is None:
            with self._lock:
                self._runs[record.function_name] += 1
        self._lambda(record)

    def on_function_output(self, function_name: str, size: int) -> None:
        self.meter_of(function_name).add(Unit.LOG_BYTE, size, function_name)

    def on_api_request(self, request_bytes: int, response_bytes: int) -> None:
        self.work.add(Unit.API_REQUEST, api_requests(request_bytes, response_bytes), HTTP_API)

    def on_aws_call(self, call: AwsCall) -> None:
        if call.service == "sqs":
            self._sqs_call(call)
        elif call.service == "s3":
            tier = s3_request_tier(call.method, call.path)
            bucket = call.path.strip("/").split("/", 1)[0]
            if tier is not None:
                self.work.add(Unit.S3_WRITE_REQUEST if tier == "write" else Unit.S3_READ_REQUEST, 1, bucket)

    def on_execution_history(self, detail: Mapping[str, Any], events: list[dict[str, Any]]) -> None:
        machine = str(detail["stateMachineArn"]).rsplit(":", 1)[-1]
        if self._machine_types.get(str(detail["stateMachineArn"]), "STANDARD") == "EXPRESS":
            duration_ms = float(detail["stopDate"]) - float(detail["startDate"])
            self.work.add(Unit.SFN_EXPRESS_REQUEST, 1, machine)
            self.work.add(Unit.SFN_EXPRESS_GB_SECOND, express_gb_seconds(EXPRESS_MEMORY_MB, duration_ms), machine)
        else:
            self.work.add(Unit.SFN_STANDARD_TRANSITION, state_transitions(events), machine)

    def _sqs_call(self, call: AwsCall) -> None:
        operation, queue = sqs_operation(call)
        if operation == "ReceiveMessage" and not _json(call.response).get("Messages"):
            return  # an empty poll: the idle polling, a fixed cost (reading())
        self.work.add(Unit.SQS_REQUEST, sqs_requests(max(len(call.body), len(call.response))), queue)

    # ------------------------------------------------------------ reading

    def collect(self) -> None:
        """Bill the DynamoDB capacity the functions recorded since the last collect."""
        with self._lock:
            consumed = list(self._capacity.read_new())
        for entry in consumed:
            unit = Unit.DYNAMODB_WRU if entry.is_write else Unit.DYNAMODB_RRU
            for table, capacity_units in entry.capacity.items():
                self.meter_of(entry.function).add(unit, capacity_units, table)

    def reset_work(self) -> None:
        """Start the work's count again (a bench's next round); the fixed costs keep their runs."""
        self.collect()
        self.work.reset()

    def reading(self) -> MeterReading:
        self.collect()
        with self._lock:
            runs = dict(self._runs)
        fixed = [
            FixedCost(
                f"{name} (scheduled)",
                meter.bill().dollars / runs[name] * self._runs_per_month[name] if runs.get(name) else None,
                f"the average of {runs[name]} measured runs x {self._runs_per_month[name]:,.0f} runs a month"
                if runs.get(name)
                else "no run while metered",
            )
            for name, meter in sorted(self._scheduled.items())
        ]
        idle_polls = SQS_IDLE_POLLERS * MONTH_SECONDS / SQS_LONG_POLL_SECONDS
        fixed += [
            FixedCost(
                f"{mapping} (SQS polling, idle)",
                idle_polls * PRICES[Unit.SQS_REQUEST].dollars_per_unit,
                f"modelled: {SQS_IDLE_POLLERS} long polls of {SQS_LONG_POLL_SECONDS} s at a time, "
                f"{idle_polls:,.0f} requests a month",
            )
            for mapping in self._sqs_mappings
        ]
        return MeterReading(self.work.bill(), tuple(fixed))


def runs_per_month(function: LocalFunction) -> float:
    """How many times a month the function's enabled `rate(...)` schedules run it (0: none)."""
    return sum(
        MONTH_SECONDS / rate_seconds(str(properties.get("Schedule", "")))
        for properties in function.events_of_type("Schedule").values()
        if boolean_property(properties, "Enabled", default=True)
    )


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def sqs_operation(call: AwsCall) -> tuple[str, str]:
    """(operation, queue name) of an SQS request in the JSON protocol (boto3's) or the query one."""
    target = call.headers.get("x-amz-target", "")
    if target:
        operation = target.rsplit(".", 1)[-1]
        queue_url = str(_json(call.body).get("QueueUrl", ""))
    else:
        operation = call.query.get("Action", [""])[0]
        queue_url = call.query.get("QueueUrl", [call.path])[0]
    return operation, queue_url.rstrip("/").rsplit("/", 1)[-1]


class MeterFile(BackgroundLoop):
    """Writes the meter's reading to `path` (JSON, replaced whole) every `interval` seconds and at stop."""

    def __init__(self, meter: StackMeter, path: Path, interval: float = 5.0) -> None:
        super().__init__("jobgate-meter-file", idle_interval=interval)
        self._meter = meter
        self.path = path

    def poll_once(self) -> bool:
        self.write()
        return False

    def write(self) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(self._meter.reading().to_json(), indent=2) + "\n")
        temporary.replace(self.path)

    def stop(self, timeout: float | None = 30.0) -> None:
        super().stop(timeout)
        self.write()
