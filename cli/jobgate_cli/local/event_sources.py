"""What the local event source mappings share: the invoker type, a polling loop, and template readers.

Lambda's event source mappings (DynamoDB streams, SQS) poll a source and invoke a function
synchronously with a batch. Each poller here runs on its own daemon thread and is handed the
function as a plain callable, so the same code runs against moto in tests and in the local stack.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

LOG = logging.getLogger(__name__)

# Runs the function's handler with this event and returns its response; raises if the function errored.
Invoke = Callable[[dict[str, Any]], Any]
# Turns a template value such as {"Fn::GetAtt": ["JobsTable", "StreamArn"]} into an ARN.
ResolveArn = Callable[[Any], str]

REPORT_BATCH_ITEM_FAILURES: Final = "ReportBatchItemFailures"


class Poller(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class MalformedBatchResponse(ValueError):
    """A ReportBatchItemFailures response Lambda would reject: the whole batch counts as failed."""


class UnsupportedMappingProperty(ValueError):
    """A template event property that the local stack does not implement (or AWS would reject)."""


class BackgroundLoop(ABC):
    """Calls `poll_once` on a daemon thread until stopped, pausing `idle_interval` when it found no work."""

    def __init__(self, name: str, idle_interval: float) -> None:
        self.name = name
        self.idle_interval = idle_interval
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def poll_once(self) -> bool:
        """Do one round of work; True means there may be more, so poll again at once."""

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop_requested.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to stop after the round in progress, without waiting."""
        self._stop_requested.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the loop to stop and wait for the round in progress (an invocation is never interrupted)."""
        self.request_stop()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop_requested.is_set()

    def pause(self, seconds: float) -> bool:
        """Sleep, waking early when asked to stop; True if the loop should stop."""
        return self._stop_requested.wait(max(seconds, 0.0))

    def _run(self) -> None:
        while not self._stop_requested.is_set():
            try:
                busy = self.poll_once()
            except Exception:
                # A poller that dies silently would stall its source for good: log and keep polling, as Lambda does.
                LOG.exception("%s: polling failed; retrying", self.name)
                busy = False
            if not busy:
                self.pause(self.idle_interval)


def parse_batch_item_failures(response: Any) -> list[str]:
    """The item identifiers a ReportBatchItemFailures response names; [] means the whole batch succeeded.

    Success: a null or empty response, or a null or empty batchItemFailures list. Anything Lambda
    cannot read as that shape (an empty or null itemIdentifier, a misspelt key) fails the whole batch.
    """
    if response is None:
        return []
    if not isinstance(response, Mapping):
        raise MalformedBatchResponse(f"response is a {type(response).__name__}, not an object")
    failures = response.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        raise MalformedBatchResponse("batchItemFailures is not a list")
    identifiers: list[str] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not isinstance(identifier, str) or not identifier:
            raise MalformedBatchResponse(f"batch item failure without an itemIdentifier: {failure!r}")
        identifiers.append(identifier)
    return identifiers


def arn_region(arn: str) -> str:
    return arn.split(":")[3]


def arn_account(arn: str) -> str:
    return arn.split(":")[4]


def integer_property(properties: Mapping[str, Any], name: str, default: int, minimum: int, maximum: int) -> int:
    """A whole-number template property within AWS's documented range."""
    value = properties.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UnsupportedMappingProperty(f"{name} must be a number, got {value!r}")
    number = int(value)
    if not minimum <= number <= maximum:
        raise UnsupportedMappingProperty(f"{name} must be between {minimum} and {maximum}, got {number}")
    return number


def boolean_property(properties: Mapping[str, Any], name: str, default: bool) -> bool:
    value = properties.get(name, default)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise UnsupportedMappingProperty(f"{name} must be true or false, got {value!r}")
    return value


def reports_batch_item_failures(properties: Mapping[str, Any]) -> bool:
    response_types = properties.get("FunctionResponseTypes") or []
    unknown = set(response_types) - {REPORT_BATCH_ITEM_FAILURES}
    if unknown:
        raise UnsupportedMappingProperty(f"unknown FunctionResponseTypes {sorted(unknown)}")
    return REPORT_BATCH_ITEM_FAILURES in response_types


def reject_unknown_properties(properties: Mapping[str, Any], supported: frozenset[str], event_type: str) -> None:
    """Fail loudly on a property the local mapping would silently ignore, so local runs cannot mislead."""
    unknown = set(properties) - supported
    if unknown:
        raise UnsupportedMappingProperty(f"{event_type} event properties not supported locally: {sorted(unknown)}")
