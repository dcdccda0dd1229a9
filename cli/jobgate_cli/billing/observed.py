"""Billable units read from what the local stack observed: invocations and execution histories.

`LambdaBilling` is an invocation listener of the local runtime (one request, the GB-seconds
of each invocation at the function's configured memory, and the log lines Lambda adds). `state_transitions`
counts a Standard execution's billed transitions from its history, as GetExecutionHistory
returns it, so a bench can bill each job's execution after it ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jobgate_cli.billing.meter import Meter
from jobgate_cli.billing.prices import Unit
from jobgate_cli.billing.units import lambda_gb_seconds, lambda_platform_log_bytes
from jobgate_cli.local.runtime import InvocationRecord, TooManyRequests

# A retry of a task is a new attempt of the same state, and Step Functions bills it as a
# transition of its own: each scheduling of a task after the first within one state entry.
_SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})


class LambdaBilling:
    """Counts each invocation: one Lambda request, memory x duration (rounded up to 1 ms), and
    Lambda's START/END/REPORT log lines; a throttled invocation not at all.

    The duration includes a cold start's init, which Lambda bills too (since August 2025).
    `meter_of` names the meter of each function's invocations.
    """

    def __init__(self, meter_of: Callable[[str], Meter], memory_mb_by_function: Mapping[str, int]) -> None:
        self._meter_of = meter_of
        self._memory = dict(memory_mb_by_function)

    def __call__(self, record: InvocationRecord) -> None:
        if record.error_type == TooManyRequests.error_code:  # nothing ran
            return
        name = record.function_name
        memory = self._memory[name]
        meter = self._meter_of(name)
        meter.add(Unit.LAMBDA_REQUEST, 1, name)
        meter.add(Unit.LAMBDA_GB_SECOND, lambda_gb_seconds(memory, record.duration_ms), name)
        log_bytes = lambda_platform_log_bytes(record.request_id, record.duration_ms, memory, record.cold_start)
        meter.add(Unit.LOG_BYTE, log_bytes, name)


def state_transitions(events: Iterable[Mapping[str, Any]]) -> int:
    """Billed transitions of a Standard execution: every state entered, plus every retry."""
    transitions = 0
    scheduled_in_state = 0
    for event in events:
        kind = str(event["type"])
        if kind.endswith("StateEntered"):
            transitions += 1
            scheduled_in_state = 0
        elif kind in _SCHEDULED:
            scheduled_in_state += 1
            if scheduled_in_state > 1:
                transitions += 1
    return transitions
