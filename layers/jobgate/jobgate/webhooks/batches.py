"""Handling a batch of webhook records concurrently, and only while the invocation has time.

Both webhook functions deliver through `ConcurrentBatchProcessor`: one receiver's slowness
costs the records of other receivers nothing, and a record is started only while the
invocation can still finish its attempt. The records it does not start are reported as
batch item failures, so their source (the stream, the retry queue) delivers them again;
none is lost to the function's timeout, and none takes a batch's healthy records with it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, FailureResponse, SuccessResponse
from aws_lambda_powertools.utilities.typing import LambdaContext


class EarlierRecordFailed(Exception):
    """A record not handled because an earlier record of its group failed in this batch."""


class OutOfTime(Exception):
    """A record not handled because the invocation could no longer finish it in time."""


RecordKey = Callable[[dict[str, Any]], Hashable]


class ConcurrentBatchProcessor(BatchProcessor):
    """Powertools' BatchProcessor, with the batch's records in groups (`group_of`): up to
    `max_concurrent` groups at once, each group's records one after another (in `order_of`'s
    order). Once a record fails, the rest of its group fail without running, as Powertools'
    SqsFifoPartialProcessor does for a message group. A record starts only while the
    invocation has more than `reserve_seconds` left (the longest one record can take)."""

    def __init__(
        self,
        event_type: EventType,
        *,
        max_concurrent: int,
        reserve_seconds: float,
        group_of: RecordKey | None = None,
        order_of: Callable[[dict[str, Any]], int] | None = None,
    ) -> None:
        super().__init__(event_type=event_type)
        self._max_concurrent = max_concurrent
        self._reserve_seconds = reserve_seconds
        self._group_of = group_of
        self._order_of = order_of

    def process(self) -> list[tuple[Any, ...]]:
        groups: dict[Hashable, list[dict[str, Any]]] = defaultdict(list)
        for index, record in enumerate(self.records):
            groups[self._group_of(record) if self._group_of else index].append(record)
        with ThreadPoolExecutor(max_workers=self._max_concurrent) as pool:
            return [result for group in pool.map(self._process_group, groups.values()) for result in group]

    def _process_group(self, records: list[dict[str, Any]]) -> list[SuccessResponse | FailureResponse]:
        if self._order_of is not None:
            records = sorted(records, key=self._order_of)
        results: list[SuccessResponse | FailureResponse] = []
        for record in records:
            if results and results[-1][0] == "fail":
                results.append(self._not_started(record, EarlierRecordFailed("an earlier record of its group failed")))
            elif not self._time_for_one_more():
                results.append(self._not_started(record, OutOfTime("too little of the invocation left to start it")))
            else:
                results.append(self._process_record(record))
        return results

    def _time_for_one_more(self) -> bool:
        context: LambdaContext | None = getattr(self, "lambda_context", None)  # set only when given one
        return context is None or context.get_remaining_time_in_millis() > self._reserve_seconds * 1000

    def _not_started(self, record: dict[str, Any], reason: Exception) -> FailureResponse:
        batch_record = self._to_batch_type(record=record, event_type=self.event_type)
        return self.failure_handler(batch_record, (type(reason), reason, None))
