"""An SQS queue → Lambda event source mapping, polled locally (SAM `Type: SQS` events).

Like Lambda: long-poll the queue, gather up to BatchSize messages (waiting up to
MaximumBatchingWindowInSeconds for more), invoke the function with Lambda's SQS event, delete
the messages of a successful batch, and with ReportBatchItemFailures delete all but the
reported ones. As Lambda's pollers do, several batches are in flight at once
(`concurrent_batches`), so a slow invocation holds up no message received after it. Failed
messages (and those of a throttled invocation) are not touched: they reappear after the
queue's visibility timeout, and the queue's own RedrivePolicy moves them to its dead-letter
queue. moto 5.2.5 implements that redrive itself (on ReceiveMessage, a message
already received maxReceiveCount times goes to the DLQ instead of being delivered; measured and
covered by the tests), so the poller does not repeat it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from jobgate_cli.local.event_sources import (
    BackgroundLoop,
    Invoke,
    MalformedBatchResponse,
    ResolveArn,
    UnsupportedMappingProperty,
    arn_account,
    arn_region,
    boolean_property,
    integer_property,
    parse_batch_item_failures,
    reject_unknown_properties,
    reports_batch_item_failures,
)
from jobgate_cli.local.filters import RecordFilter, filter_patterns
from jobgate_cli.local.runtime import TooManyRequests

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueOutputTypeDef, MessageTypeDef

LOG = logging.getLogger(__name__)

MAX_MESSAGES_PER_RECEIVE: Final = 10
MAX_BATCH_SIZE: Final = 10_000
MAX_FIFO_BATCH_SIZE: Final = 10
MAX_BATCHING_WINDOW_SECONDS: Final = 300
# Lambda starts polling a standard queue with five concurrent batches (and scales up from there).
LAMBDA_CONCURRENT_BATCHES: Final = 5
# The system attributes Lambda puts in a record's "attributes".
_LAMBDA_SYSTEM_ATTRIBUTES: Final = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "DeadLetterQueueSourceArn",
)
_SUPPORTED_PROPERTIES: Final = frozenset(
    {
        "Queue",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "FunctionResponseTypes",
        "FilterCriteria",
        "Enabled",
        # These change cost, encryption or concurrency, never which events the function sees.
        "KmsKeyArn",
        "MetricsConfig",
        "ScalingConfig",
    }
)


@dataclass(frozen=True)
class SqsMappingConfig:
    queue_arn: str
    batch_size: int = 10
    maximum_batching_window_seconds: float = 0.0
    filter_patterns: tuple[str, ...] = ()
    report_batch_item_failures: bool = False
    enabled: bool = True

    @classmethod
    def from_template_event(cls, properties: Mapping[str, Any], resolve_arn: ResolveArn) -> SqsMappingConfig:
        """Read a SAM `Type: SQS` event's Properties, with AWS's defaults and limits."""
        reject_unknown_properties(properties, _SUPPORTED_PROPERTIES, "SQS")
        if "Queue" not in properties:
            raise UnsupportedMappingProperty("SQS event needs a Queue")
        queue_arn = resolve_arn(properties["Queue"])
        is_fifo = queue_arn.endswith(".fifo")
        batch_size = integer_property(
            properties, "BatchSize", 10, 1, MAX_FIFO_BATCH_SIZE if is_fifo else MAX_BATCH_SIZE
        )
        window = integer_property(properties, "MaximumBatchingWindowInSeconds", 0, 0, MAX_BATCHING_WINDOW_SECONDS)
        if batch_size > MAX_MESSAGES_PER_RECEIVE and window < 1:
            raise UnsupportedMappingProperty("a BatchSize above 10 needs MaximumBatchingWindowInSeconds of at least 1")
        return cls(
            queue_arn=queue_arn,
            batch_size=batch_size,
            maximum_batching_window_seconds=float(window),
            filter_patterns=filter_patterns(properties),
            report_batch_item_failures=reports_batch_item_failures(properties),
            enabled=boolean_property(properties, "Enabled", True),
        )


def queue_url_from_arn(sqs_client: SQSClient, queue_arn: str) -> str:
    """The URL of the queue an ARN (arn:aws:sqs:region:account:name) names."""
    queue_name = queue_arn.split(":")[5]
    return sqs_client.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=arn_account(queue_arn))["QueueUrl"]


def lambda_sqs_record(message: MessageTypeDef, queue_arn: str) -> dict[str, Any]:
    """One record of Lambda's SQS event, built from a ReceiveMessage message."""
    system_attributes = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            name: system_attributes[name] for name in _LAMBDA_SYSTEM_ATTRIBUTES if name in system_attributes
        },
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update(
        {
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": arn_region(queue_arn),
        }
    )
    return record


def _lambda_message_attribute(value: MessageAttributeValueOutputTypeDef) -> dict[str, Any]:
    # Lambda spells message attributes in camelCase, with binary values base64-encoded.
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [
        base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
    ]
    attribute["dataType"] = value["DataType"]
    return attribute


def _filter_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as Lambda filters it: a JSON body is matched as JSON, any other body as a string."""
    try:
        body = json.loads(record["body"])
    except (json.JSONDecodeError, TypeError):
        return dict(record)
    return {**record, "body": body} if isinstance(body, dict) else dict(record)


class SqsPoller(BackgroundLoop):
    """Delivers an SQS queue's messages to a function, as a Lambda SQS event source mapping does."""

    def __init__(
        self,
        sqs_client: SQSClient,
        invoke: Invoke,
        config: SqsMappingConfig,
        *,
        wait_time_seconds: int = 1,
        poll_interval: float = 0.1,
        concurrent_batches: int = 1,
    ) -> None:
        """`wait_time_seconds`: the long-poll wait, in whole seconds as SQS takes it (it bounds how long stop() waits).

        `poll_interval`: the pause between receives while a batching window is open.
        `concurrent_batches`: how many batches may be in flight at once.
        """
        super().__init__(name=f"sqs-poller:{config.queue_arn.split(':')[-1]}", idle_interval=poll_interval)
        self._sqs = sqs_client
        self._invoke = invoke
        self._config = config
        self._filter = RecordFilter(config.filter_patterns)
        self._wait_time_seconds = wait_time_seconds
        self._poll_interval = poll_interval
        self._queue_url: str | None = None
        # A slot is taken before receiving, so no message waits received but not invoked.
        self._free_slots = threading.BoundedSemaphore(concurrent_batches)
        self._concurrent_batches = concurrent_batches
        self._in_flight: ThreadPoolExecutor | None = None

    def start(self) -> None:
        if not self._config.enabled:
            LOG.info("%s: mapping disabled (Enabled: false); not polling", self.name)
            return
        # Resolve now, so that a mapping to a missing queue fails at start as CreateEventSourceMapping would.
        self._queue_url = queue_url_from_arn(self._sqs, self._config.queue_arn)
        if self._in_flight is None:
            self._in_flight = ThreadPoolExecutor(max_workers=self._concurrent_batches, thread_name_prefix=self.name)
        super().start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop receiving, then wait for the batches in flight (an invocation is never interrupted)."""
        super().stop(timeout)
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.shutdown(wait=True)

    def poll_once(self) -> bool:
        assert self._in_flight is not None  # started
        if not self._free_slots.acquire(timeout=self._poll_interval):
            return True  # every slot busy: try again, noticing a stop meanwhile
        try:
            messages = self._receive_batch()
        except BaseException:
            self._free_slots.release()
            raise
        if not messages:
            self._free_slots.release()
            return False
        self._in_flight.submit(self._handle_batch, messages)
        return True

    def _handle_batch(self, messages: list[MessageTypeDef]) -> None:
        try:
            self._settle_batch(messages)
        except Exception:
            LOG.exception("%s: could not settle a batch; its messages reappear", self.name)
        finally:
            self._free_slots.release()

    def _settle_batch(self, messages: list[MessageTypeDef]) -> None:
        delivered: list[dict[str, Any]] = []
        filtered_out: list[dict[str, Any]] = []
        for message in messages:
            record = lambda_sqs_record(message, self._config.queue_arn)
            (delivered if self._filter.matches(_filter_view(record)) else filtered_out).append(record)
        # Lambda deletes messages that match no filter, without invoking the function.
        self._delete(filtered_out)
        if delivered:
            self._delete(self._invoke_and_settle(delivered))

    def _receive_batch(self) -> list[MessageTypeDef]:
        """Long-poll for a first message, then keep receiving until the batch is full or the window closes."""
        assert self._queue_url is not None
        received: dict[str, MessageTypeDef] = {}
        window_closes_at: float | None = None
        wait_seconds = self._wait_time_seconds
        while len(received) < self._config.batch_size and not self.stopping:
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(MAX_MESSAGES_PER_RECEIVE, self._config.batch_size - len(received)),
                WaitTimeSeconds=wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            new_messages = response.get("Messages", [])
            # Keyed by id: a message whose visibility lapsed while gathering keeps only its latest receipt handle.
            received.update((message["MessageId"], message) for message in new_messages)
            if not received:
                return []
            if window_closes_at is None:
                window_closes_at = time.monotonic() + self._config.maximum_batching_window_seconds
            remaining = window_closes_at - time.monotonic()
            if remaining <= 0:
                break
            if not new_messages and self.pause(min(self._poll_interval, remaining)):
                break
            wait_seconds = 0
        return list(received.values())

    def _invoke_and_settle(self, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Invoke with the batch; the records to delete (the rest will reappear after the visibility timeout)."""
        try:
            response = self._invoke({"Records": list(records)})
        except TooManyRequests as throttled:
            # As for a failed batch: the messages reappear after the visibility timeout.
            LOG.warning("%s: %s; %d message(s) will be retried", self.name, throttled, len(records))
            return []
        except Exception:
            LOG.warning("%s: function failed; %d message(s) will be retried", self.name, len(records), exc_info=True)
            return []
        if not self._config.report_batch_item_failures:
            return list(records)
        try:
            failed_ids = set(parse_batch_item_failures(response))
            unknown = failed_ids - {record["messageId"] for record in records}
            if unknown:
                raise MalformedBatchResponse(f"itemIdentifier not in the batch: {sorted(unknown)}")
        except MalformedBatchResponse as error:
            LOG.warning("%s: unusable batch response, whole batch failed: %s", self.name, error)
            return []
        return [record for record in records if record["messageId"] not in failed_ids]

    def _delete(self, records: Sequence[Mapping[str, Any]]) -> None:
        assert self._queue_url is not None
        for start in range(0, len(records), MAX_MESSAGES_PER_RECEIVE):
            chunk = records[start : start + MAX_MESSAGES_PER_RECEIVE]
            response = self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": record["receiptHandle"]} for index, record in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed", []):
                # A handle that expired mid-batch: the message reappears and is delivered again (at-least-once).
                LOG.warning("%s: could not delete a message: %s", self.name, failure.get("Message"))
