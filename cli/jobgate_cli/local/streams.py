"""A DynamoDB stream → Lambda event source mapping, polled locally (SAM `Type: DynamoDB` events).

moto's own mapping runs on the writer's thread, ignores most settings and loses records whose
handler raised (docs/local-stack.md), so this reads the stream through the DynamoDB Streams
API and applies the mapping's documented semantics itself:

- one reader per shard; a shard's records are delivered in order and the reader never moves
  past a record that is not done; a child shard starts only when its parent is finished;
- StartingPosition, BatchSize, MaximumBatchingWindowInSeconds, FilterCriteria (records that
  match no filter are dropped, never delivered);
- ReportBatchItemFailures: retry from the lowest reported sequence number;
- on an error, BisectBatchOnFunctionError halves the batch (halving does not count as a
  retry), MaximumRetryAttempts and MaximumRecordAgeInSeconds bound the retries, and then the
  batch's description goes to the OnFailure destination and the shard moves on;
- a throttled invocation (TooManyRequests: the function is at its concurrency limit) is
  retried after the same delay, and does not count towards MaximumRetryAttempts nor bisect:
  the function never ran. (Our choice; MaximumRecordAgeInSeconds still bounds it.)

Checkpoints live in the poller, so stop() then start() resumes after the last record done,
as re-enabling a mapping does. They do not survive the process.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from botocore.exceptions import ClientError

from jobgate_cli.local.event_sources import (
    BackgroundLoop,
    Invoke,
    MalformedBatchResponse,
    ResolveArn,
    UnsupportedMappingProperty,
    arn_region,
    boolean_property,
    integer_property,
    parse_batch_item_failures,
    reject_unknown_properties,
    reports_batch_item_failures,
)
from jobgate_cli.local.filters import RecordFilter, filter_patterns
from jobgate_cli.local.queues import queue_url_from_arn
from jobgate_cli.local.runtime import TooManyRequests
from jobgate_cli.local.ttl import TtlDeletions

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

LOG = logging.getLogger(__name__)

StartingPosition = Literal["TRIM_HORIZON", "LATEST"]
FailureCondition = Literal["RetryAttemptsExhausted", "RecordAgeExceeded"]

# DynamoDB Streams keeps records for 24 hours: "retry until the record expires" means this long.
STREAM_RETENTION_SECONDS: Final = 86_400
MAX_RECORDS_PER_GET: Final = 1000
MAX_BATCH_SIZE: Final = 10_000
MAX_BATCHING_WINDOW_SECONDS: Final = 300
MAX_RETRY_ATTEMPTS: Final = 10_000
MIN_RECORD_AGE_SECONDS: Final = 60
MAX_RECORD_AGE_SECONDS: Final = 604_800
_SUPPORTED_PROPERTIES: Final = frozenset(
    {
        "Stream",
        "StartingPosition",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "FilterCriteria",
        "FunctionResponseTypes",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "DestinationConfig",
        "Enabled",
        "ParallelizationFactor",
        # These change encryption or metrics, never which events the function sees.
        "KmsKeyArn",
        "MetricsConfig",
    }
)


class StreamsClient(Protocol):
    """The DynamoDB Streams calls the poller makes (boto3's `dynamodbstreams` client has no installed stubs)."""

    def describe_stream(self, **kwargs: Any) -> Any: ...

    def get_shard_iterator(self, **kwargs: Any) -> Any: ...

    def get_records(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class StreamMappingConfig:
    stream_arn: str
    starting_position: StartingPosition
    batch_size: int = 100
    maximum_batching_window_seconds: float = 0.0
    filter_patterns: tuple[str, ...] = ()
    report_batch_item_failures: bool = False
    bisect_batch_on_function_error: bool = False
    # -1: retry until the record expires (AWS's default).
    maximum_retry_attempts: int = -1
    # -1: no limit but the stream's retention.
    maximum_record_age_seconds: float = -1
    on_failure_destination: str | None = None
    enabled: bool = True

    @classmethod
    def from_template_event(cls, properties: Mapping[str, Any], resolve_arn: ResolveArn) -> StreamMappingConfig:
        """Read a SAM `Type: DynamoDB` event's Properties, with AWS's defaults and limits."""
        reject_unknown_properties(properties, _SUPPORTED_PROPERTIES, "DynamoDB")
        if "Stream" not in properties:
            raise UnsupportedMappingProperty("DynamoDB event needs a Stream")
        starting_position = properties.get("StartingPosition")
        if starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise UnsupportedMappingProperty(
                f"StartingPosition must be TRIM_HORIZON or LATEST, got {starting_position!r}"
            )
        if integer_property(properties, "ParallelizationFactor", 1, 1, 10) != 1:
            raise UnsupportedMappingProperty("ParallelizationFactor above 1 is not supported locally")
        record_age = integer_property(properties, "MaximumRecordAgeInSeconds", -1, -1, MAX_RECORD_AGE_SECONDS)
        if record_age != -1 and record_age < MIN_RECORD_AGE_SECONDS:
            raise UnsupportedMappingProperty(
                f"MaximumRecordAgeInSeconds must be -1 or at least {MIN_RECORD_AGE_SECONDS}"
            )
        return cls(
            stream_arn=resolve_arn(properties["Stream"]),
            starting_position=starting_position,
            batch_size=integer_property(properties, "BatchSize", 100, 1, MAX_BATCH_SIZE),
            maximum_batching_window_seconds=float(
                integer_property(properties, "MaximumBatchingWindowInSeconds", 0, 0, MAX_BATCHING_WINDOW_SECONDS)
            ),
            filter_patterns=filter_patterns(properties),
            report_batch_item_failures=reports_batch_item_failures(properties),
            bisect_batch_on_function_error=boolean_property(properties, "BisectBatchOnFunctionError", False),
            maximum_retry_attempts=integer_property(properties, "MaximumRetryAttempts", -1, -1, MAX_RETRY_ATTEMPTS),
            maximum_record_age_seconds=float(record_age),
            on_failure_destination=_on_failure_destination(properties, resolve_arn),
            enabled=boolean_property(properties, "Enabled", True),
        )


def _on_failure_destination(properties: Mapping[str, Any], resolve_arn: ResolveArn) -> str | None:
    on_failure = (properties.get("DestinationConfig") or {}).get("OnFailure") or {}
    if "Destination" not in on_failure:
        return None
    destination = resolve_arn(on_failure["Destination"])
    if not destination.startswith("arn:") or destination.split(":")[2] != "sqs":
        raise UnsupportedMappingProperty(f"only SQS on-failure destinations are supported locally, got {destination}")
    return destination


@dataclass(frozen=True)
class StreamRecord:
    """A record read from a shard: Lambda's form of it, and what the mapping needs to track it."""

    lambda_record: dict[str, Any]
    sequence_number: str
    created_at: float
    delivered: bool  # False: matches no filter, so Lambda drops it


def lambda_stream_record(
    raw: Mapping[str, Any], stream_arn: str, ttl_deletions: TtlDeletions | None = None
) -> dict[str, Any]:
    """Lambda's form of a GetRecords record: eventVersion 1.1, epoch-seconds creation time, base64 binaries;
    a REMOVE of an item the local TTL sweeper deleted (`ttl_deletions`) carries DynamoDB's TTL identity."""
    source = raw["dynamodb"]
    dynamodb: dict[str, Any] = {
        # DynamoDB Streams rounds the creation time down to the second.
        "ApproximateCreationDateTime": float(math.floor(_epoch_seconds(source["ApproximateCreationDateTime"]))),
    }
    for image in ("Keys", "NewImage", "OldImage"):
        if image in source:
            dynamodb[image] = _json_attribute_map(source[image])
    for name in ("SequenceNumber", "SizeBytes", "StreamViewType"):
        dynamodb[name] = source[name]
    event_name, user_identity = _event_name_and_identity(raw)
    if (
        event_name == "REMOVE"
        and user_identity is None
        and ttl_deletions is not None
        and ttl_deletions.includes(stream_arn.split("/")[1], raw["dynamodb"]["Keys"])
    ):
        user_identity = dict(TTL_USER_IDENTITY)
    record: dict[str, Any] = {
        "eventID": raw["eventID"],
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": arn_region(stream_arn),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if user_identity is not None:
        record["userIdentity"] = user_identity
    return record


# What DynamoDB puts on the REMOVE records of its own TTL deletes.
TTL_USER_IDENTITY: Final = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
STREAM_EVENT_NAMES: Final = frozenset({"INSERT", "MODIFY", "REMOVE"})


def _event_name_and_identity(raw: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """DynamoDB Local 3.3.1 names the records of its own TTL deletes "UNKNOWN_TO_SDK_VERSION"
    and gives them no userIdentity; DynamoDB sends REMOVE with the service's identity."""
    name = str(raw["eventName"])
    identity = dict(raw["userIdentity"]) if "userIdentity" in raw else None
    if name not in STREAM_EVENT_NAMES and "OldImage" in raw["dynamodb"] and "NewImage" not in raw["dynamodb"]:
        return "REMOVE", identity or dict(TTL_USER_IDENTITY)
    return name, identity


def _epoch_seconds(value: datetime | float) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _json_attribute_map(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _json_attribute(value) for name, value in attributes.items()}


def _json_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # boto3 decodes B and BS to bytes; Lambda's event carries them base64-encoded, as the wire does.
    (kind, content), *_ = value.items()
    if kind == "B":
        return {kind: _base64(content)}
    if kind == "BS":
        return {kind: [_base64(item) for item in content]}
    if kind == "M":
        return {kind: _json_attribute_map(content)}
    if kind == "L":
        return {kind: [_json_attribute(item) for item in content]}
    return {kind: content}


def _base64(content: bytes | str) -> str:
    return content if isinstance(content, str) else base64.b64encode(content).decode("ascii")


def _iso_timestamp(epoch_seconds: float, milliseconds: bool) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    if milliseconds:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class _Outcome:
    succeeded: bool
    retry_from: int = 0  # index of the first record still to do
    unhandled_error: bool = False  # the function raised (as opposed to reporting failures)
    bisectable: bool = False
    throttled: bool = False  # the function did not run


@dataclass
class _PendingBatch:
    records: list[StreamRecord]
    retries: int = 0
    invocations: int = 0
    last_unhandled_error: bool = False


@dataclass
class _Position:
    iterator_type: str
    sequence_number: str | None = None

    def request(self) -> dict[str, str]:
        request = {"ShardIteratorType": self.iterator_type}
        if self.sequence_number is not None:
            request["SequenceNumber"] = self.sequence_number
        return request


@dataclass
class _ShardState:
    checkpoint: str | None = None  # last sequence number done (delivered, dropped by a filter, or given up)
    finished: bool = False


class DynamoDBStreamPoller(BackgroundLoop):
    """One event source mapping: a DynamoDB stream delivered to one function, shard by shard."""

    def __init__(
        self,
        streams_client: StreamsClient,
        sqs_client: SQSClient,
        invoke: Invoke,
        config: StreamMappingConfig,
        *,
        function_arn: str,
        poll_interval: float = 0.25,
        shard_refresh_interval: float = 5.0,
        retry_delay: float = 1.0,
        clock: Callable[[], float] = time.time,
        ttl_deletions: TtlDeletions | None = None,
    ) -> None:
        """`function_arn` goes into on-failure records. `poll_interval`: how often an idle shard is read (Lambda
        reads 4 times a second). `shard_refresh_interval`: how often the shard list is re-read. `retry_delay`: the
        pause before retrying a failed batch. `clock` gives epoch seconds, for record ages and timestamps.
        `ttl_deletions`: the local TTL sweeper's deletes, whose REMOVE records get DynamoDB's TTL identity.
        """
        super().__init__(
            name=f"ddb-stream-poller:{config.stream_arn.split('/')[1]}", idle_interval=shard_refresh_interval
        )
        self.streams = streams_client
        self.config = config
        self.function_arn = function_arn
        self.poll_interval = poll_interval
        self.retry_delay = retry_delay
        self.clock = clock
        self.ttl_deletions = ttl_deletions
        self.record_filter = RecordFilter(config.filter_patterns)
        self._sqs = sqs_client
        self._invoke = invoke
        self._destination_url: str | None = None
        self._lock = threading.Lock()
        self._shards: dict[str, _ShardState] = {}
        self._readers: dict[str, _ShardReader] = {}
        # The shards present when the mapping first started: StartingPosition applies to these only.
        self._initial_shard_ids: set[str] | None = None

    def start(self) -> None:
        """Start reading; returns once every shard has an iterator, so with LATEST later writes are delivered."""
        if not self.config.enabled:
            LOG.info("%s: mapping disabled (Enabled: false); not polling", self.name)
            return
        self._refresh_shards()
        super().start()

    def stop(self, timeout: float | None = 30.0) -> None:
        super().stop(timeout)
        with self._lock:
            readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            reader.request_stop()
        for reader in readers:
            reader.stop(timeout)

    def poll_once(self) -> bool:
        self._refresh_shards()
        return False

    def _invoke_batch(self, records: Sequence[StreamRecord]) -> _Outcome:
        """Invoke the function with a batch, and read its response as Lambda does."""
        try:
            response = self._invoke({"Records": [record.lambda_record for record in records]})
        except TooManyRequests as throttled:
            LOG.warning("%s: %s; retrying %d record(s)", self.name, throttled, len(records))
            return _Outcome(succeeded=False, throttled=True)
        except Exception:
            LOG.warning("%s: function failed on %d record(s)", self.name, len(records), exc_info=True)
            return _Outcome(succeeded=False, unhandled_error=True, bisectable=True)
        if not self.config.report_batch_item_failures:
            return _Outcome(succeeded=True)
        try:
            failed = parse_batch_item_failures(response)
            positions = {record.sequence_number: index for index, record in enumerate(records)}
            unknown = [identifier for identifier in failed if identifier not in positions]
            if unknown:
                raise MalformedBatchResponse(f"itemIdentifier not in the batch: {unknown}")
        except MalformedBatchResponse as error:
            LOG.warning("%s: unusable batch response, whole batch failed: %s", self.name, error)
            return _Outcome(succeeded=False, bisectable=True)
        if not failed:
            return _Outcome(succeeded=True)
        # Lambda checkpoints before the lowest reported sequence number and retries from there.
        return _Outcome(succeeded=False, retry_from=min(positions[identifier] for identifier in failed))

    def _send_to_destination(
        self, shard_id: str, batch: _PendingBatch, records: Sequence[StreamRecord], condition: FailureCondition
    ) -> None:
        """Describe a discarded batch on the OnFailure destination (the records themselves are not included)."""
        LOG.warning("%s: discarding %d record(s) of %s (%s)", self.name, len(records), shard_id, condition)
        if self.config.on_failure_destination is None:
            return
        if self._destination_url is None:
            self._destination_url = queue_url_from_arn(self._sqs, self.config.on_failure_destination)
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if batch.last_unhandled_error:
            response_context["functionError"] = "Unhandled"
        invocation_record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": batch.invocations,
            },
            "responseContext": response_context,
            "version": "1.0",
            "timestamp": _iso_timestamp(self.clock(), milliseconds=True),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": records[0].sequence_number,
                "endSequenceNumber": records[-1].sequence_number,
                "approximateArrivalOfFirstRecord": _iso_timestamp(records[0].created_at, milliseconds=False),
                "approximateArrivalOfLastRecord": _iso_timestamp(records[-1].created_at, milliseconds=False),
                "batchSize": len(records),
                "streamArn": self.config.stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=self._destination_url, MessageBody=json.dumps(invocation_record))

    def _checkpoint(self, shard_id: str, sequence_number: str) -> None:
        with self._lock:
            self._shards[shard_id].checkpoint = sequence_number

    def _shard_finished(self, shard_id: str) -> None:
        """A closed shard is drained: its children may start (on the next refresh)."""
        with self._lock:
            self._shards[shard_id].finished = True
            self._readers.pop(shard_id, None)

    def _refresh_shards(self) -> None:
        shards = self._describe_shards()
        known_ids = {shard["ShardId"] for shard in shards}
        if self._initial_shard_ids is None:
            self._initial_shard_ids = set(known_ids)
        with self._lock:
            for shard in shards:
                shard_id = shard["ShardId"]
                state = self._shards.setdefault(shard_id, _ShardState())
                if state.finished or shard_id in self._readers:
                    continue
                parent_id = shard.get("ParentShardId")
                if parent_id in known_ids and not self._shards.setdefault(str(parent_id), _ShardState()).finished:
                    # Finish the parent first, so that a key's records stay in order across a split.
                    continue
                closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
                position = self._start_position(shard_id, state)
                if position.iterator_type == "LATEST" and closed:
                    # LATEST on a shard that can take no more records: nothing will ever arrive.
                    state.finished = True
                    continue
                reader = _ShardReader(self, shard_id, position)
                reader.open()
                reader.start()
                self._readers[shard_id] = reader

    def _start_position(self, shard_id: str, state: _ShardState) -> _Position:
        if state.checkpoint is not None:
            return _Position("AFTER_SEQUENCE_NUMBER", state.checkpoint)
        if self.config.starting_position == "LATEST" and shard_id in (self._initial_shard_ids or set()):
            return _Position("LATEST")
        # Shards found later (children of a split) are read from their start, as Lambda does.
        return _Position("TRIM_HORIZON")

    def _describe_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self.config.stream_arn}
        while True:
            description = self.streams.describe_stream(**request)["StreamDescription"]
            shards.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            request["ExclusiveStartShardId"] = last


class _ShardReader(BackgroundLoop):
    """Reads one shard, batches its records and delivers them, never moving past an unfinished record."""

    def __init__(self, mapping: DynamoDBStreamPoller, shard_id: str, position: _Position) -> None:
        super().__init__(name=f"{mapping.name}:{shard_id}", idle_interval=mapping.poll_interval)
        self.mapping = mapping
        self.shard_id = shard_id
        self._position = position
        self._iterator: str | None = None
        self._shard_closed = False
        self._buffer: deque[StreamRecord] = deque()
        self._batch_opened_at: float | None = None  # when the first deliverable record of a batch was read

    def open(self) -> None:
        """Get the first iterator now, so that LATEST means 'after the mapping started'."""
        self._iterator = self._get_iterator()

    def poll_once(self) -> bool:
        if self._iterator is None and not self._shard_closed:
            self._iterator = self._get_iterator()
        read_any = False
        if self._iterator is not None and self._deliverable_count() < self.mapping.config.batch_size:
            read_any = self._read()
        self._skip_undeliverable()
        if not self._buffer:
            if self._shard_closed:
                self.mapping._shard_finished(self.shard_id)
                self.request_stop()
            return read_any
        if self._batch_opened_at is None:
            # The batching window opens with the first record waiting, or when the previous invocation ends.
            self._batch_opened_at = time.monotonic()
        if not self._batch_ready(self._batch_opened_at):
            return False
        batch, consumed = self._peek_batch()
        if not self._deliver(batch):
            return False  # stopping: the batch stays unfinished, and so does the checkpoint
        done = [self._buffer.popleft() for _ in range(consumed)]
        self.mapping._checkpoint(self.shard_id, done[-1].sequence_number)
        self._batch_opened_at = None
        return True

    def _get_iterator(self) -> str | None:
        request = {"StreamArn": self.mapping.config.stream_arn, "ShardId": self.shard_id, **self._position.request()}
        try:
            return str(self.mapping.streams.get_shard_iterator(**request)["ShardIterator"])
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "TrimmedDataAccessException":
                # The records after our position expired from the stream: continue from the oldest left.
                LOG.warning("%s: position trimmed from the stream; reading from TRIM_HORIZON", self.name)
                self._position = _Position("TRIM_HORIZON")
                return None
            if code == "ResourceNotFoundException":
                LOG.warning("%s: shard or stream is gone; stopping this shard", self.name)
                self._shard_closed = True
                return None
            raise

    def _read(self) -> bool:
        try:
            response = self.mapping.streams.get_records(ShardIterator=self._iterator, Limit=MAX_RECORDS_PER_GET)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                # Iterators last 15 minutes: get a new one after the last record read (buffered records are kept).
                LOG.info("%s: %s; getting a new iterator", self.name, code)
                self._iterator = None
                return True
            if code == "ResourceNotFoundException":
                self._iterator, self._shard_closed = None, True
                return False
            raise
        for raw in response.get("Records", []):
            self._buffer.append(self._stream_record(raw))
            self._position = _Position("AFTER_SEQUENCE_NUMBER", raw["dynamodb"]["SequenceNumber"])
        self._iterator = response.get("NextShardIterator")
        if self._iterator is None:
            self._shard_closed = True
        return bool(response.get("Records"))

    def _stream_record(self, raw: Mapping[str, Any]) -> StreamRecord:
        lambda_record = lambda_stream_record(raw, self.mapping.config.stream_arn, self.mapping.ttl_deletions)
        return StreamRecord(
            lambda_record=lambda_record,
            sequence_number=raw["dynamodb"]["SequenceNumber"],
            created_at=_epoch_seconds(raw["dynamodb"]["ApproximateCreationDateTime"]),
            delivered=self.mapping.record_filter.matches(lambda_record),
        )

    def _deliverable_count(self) -> int:
        return sum(1 for record in self._buffer if record.delivered)

    def _skip_undeliverable(self) -> None:
        """Records no filter matches, ahead of any deliverable one, are done: advance past them."""
        skipped: StreamRecord | None = None
        while self._buffer and not self._buffer[0].delivered:
            skipped = self._buffer.popleft()
        if skipped is not None:
            self.mapping._checkpoint(self.shard_id, skipped.sequence_number)

    def _batch_ready(self, window_opened_at: float) -> bool:
        """Full, or the window has closed, or the shard is closed (no more records can come)."""
        if self._deliverable_count() >= self.mapping.config.batch_size or self._shard_closed:
            return True
        return time.monotonic() - window_opened_at >= self.mapping.config.maximum_batching_window_seconds

    def _peek_batch(self) -> tuple[list[StreamRecord], int]:
        """The next batch of deliverable records, and how many buffered records it spans (dropped ones included)."""
        batch: list[StreamRecord] = []
        consumed = 0
        for record in self._buffer:
            if len(batch) == self.mapping.config.batch_size:
                break
            consumed += 1
            if record.delivered:
                batch.append(record)
        return batch, consumed

    def _deliver(self, records: list[StreamRecord]) -> bool:
        """Deliver a batch until every record succeeded or was given up; False if asked to stop first."""
        config = self.mapping.config
        pending: deque[_PendingBatch] = deque([_PendingBatch(records)])
        while pending:
            if self.stopping:
                return False
            batch = pending[0]
            fresh = self._discard_expired(batch)
            if not fresh:
                pending.popleft()
                continue
            outcome = self.mapping._invoke_batch(batch.records)
            if outcome.throttled:
                if self.pause(self.mapping.retry_delay):
                    return False
                continue
            batch.invocations += 1
            batch.last_unhandled_error = outcome.unhandled_error
            if outcome.succeeded:
                pending.popleft()
                continue
            if outcome.bisectable and config.bisect_batch_on_function_error and len(batch.records) > 1:
                # Halving does not count towards the retry quota; the first half goes first, to keep order.
                pending.popleft()
                middle = len(batch.records) // 2
                pending.appendleft(_PendingBatch(batch.records[middle:], retries=batch.retries))
                pending.appendleft(_PendingBatch(batch.records[:middle], retries=batch.retries))
            else:
                # Records before the first reported failure are done; retry from it.
                batch.records = batch.records[outcome.retry_from :]
                if 0 <= config.maximum_retry_attempts <= batch.retries:
                    self.mapping._send_to_destination(self.shard_id, batch, batch.records, "RetryAttemptsExhausted")
                    pending.popleft()
                    continue
                batch.retries += 1
            if self.pause(self.mapping.retry_delay):
                return False
        return True

    def _discard_expired(self, batch: _PendingBatch) -> bool:
        """Give up the records older than MaximumRecordAgeInSeconds (or the stream's retention); any left?"""
        max_age = self.mapping.config.maximum_record_age_seconds
        limit = max_age if max_age >= 0 else STREAM_RETENTION_SECONDS
        now = self.mapping.clock()
        # Records are in sequence order, so the expired ones are a prefix.
        expired = 0
        while expired < len(batch.records) and now - batch.records[expired].created_at > limit:
            expired += 1
        if expired:
            self.mapping._send_to_destination(self.shard_id, batch, batch.records[:expired], "RecordAgeExceeded")
            batch.records = batch.records[expired:]
        return bool(batch.records)
