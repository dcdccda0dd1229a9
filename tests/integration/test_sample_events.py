"""events/: a sample event (for `sam local invoke -e`) for every function, each one its function accepts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventV2Model,
    DynamoDBStreamModel,
    EventBridgeModel,
    SqsModel,
)
from pydantic import BaseModel

from jobgate.jobtypes.background_check.workflow import (
    RecordFindingRequest,
    RecordNoAnswerRequest,
    StartVendorCheckRequest,
    SummarizeRequest,
)
from jobgate.jobtypes.bulk_import.chunk import ChunkRequest
from jobgate.jobtypes.bulk_import.finish import FinishRequest
from jobgate.jobtypes.bulk_import.plan import PlanRequest
from jobgate.jobtypes.demo.models import DemoStepRequest
from jobgate.jobtypes.order_fulfillment.workflow import SagaTask
from jobgate.lifecycle import LifecycleRequest
from jobgate.store import keys
from jobgate.store.deliveries import event_from_item
from jobgate.store.jobs import job_owner
from jobgate.webhooks.delivery import RetryMessage
from jobgate_api.schemas import SubmitJobRequest
from tests.conftest import EVENTS, TEMPLATE

Event = dict[str, Any]

FUNCTIONS: dict[str, dict[str, Any]] = {
    PurePosixPath(resource["Properties"]["CodeUri"]).name: resource["Properties"]
    for resource in TEMPLATE["Resources"].values()
    if resource["Type"] == "AWS::Serverless::Function"
}
SAMPLES = sorted(EVENTS.glob("*.json"))
# Request bodies of the API's routes, by route key.
API_BODIES: dict[str, type[BaseModel]] = {"POST /jobs": SubmitJobRequest}
BACKGROUND_CHECK_ACTIONS: dict[str, type[BaseModel]] = {
    "record-finding": RecordFindingRequest,
    "record-no-answer": RecordNoAnswerRequest,
    "summarize": SummarizeRequest,
}


def event_source(code_dir: str, source_type: str) -> dict[str, Any]:
    """The Properties of the function's (only) event source of this type in template.yaml."""
    sources: list[dict[str, Any]] = [
        e["Properties"] for e in FUNCTIONS[code_dir]["Events"].values() if e["Type"] == source_type
    ]
    (source,) = sources
    return source


def check_api(event: Event) -> None:
    APIGatewayProxyEventV2Model.model_validate(event)
    routes = {
        f"{e['Properties']['Method'].upper()} {e['Properties']['Path']}" for e in FUNCTIONS["api"]["Events"].values()
    }
    assert event["routeKey"] in routes
    method, path = event["routeKey"].split(" ")
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"], event["requestContext"]["routeKey"]) == (
        method,
        event["rawPath"],
        event["routeKey"],
    )
    match = re.fullmatch(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path), event["rawPath"])
    assert match is not None
    assert event.get("pathParameters", {}) == match.groupdict()
    if event["routeKey"] in API_BODIES:
        API_BODIES[event["routeKey"]].model_validate_json(event["body"])


def stream_filter(code_dir: str, event: Event) -> dict[str, Any]:
    """The function's stream filter pattern, once the event is a stream event of the names it passes."""
    (rule,) = event_source(code_dir, "DynamoDB")["FilterCriteria"]["Filters"]
    pattern: dict[str, Any] = json.loads(rule["Pattern"])
    for record in DynamoDBStreamModel.model_validate(event).Records:
        assert record.eventName in pattern["eventName"]
    return pattern


def check_job_events(event: Event) -> None:
    # What the stream's filter passes (INSERTs of EVENT# items), read as the dispatcher reads it.
    pattern = stream_filter("webhook_dispatcher", event)
    for raw in event["Records"]:
        assert raw["dynamodb"]["Keys"]["sk"]["S"].startswith(pattern["dynamodb"]["Keys"]["sk"]["S"][0]["prefix"])
        stored = event_from_item(raw["dynamodb"]["NewImage"])
        body = json.loads(stored.body)
        assert (body["sequence"], body["type"], body["data"]["job"]["id"]) == (
            stored.sequence,
            stored.event_type,
            stored.job_id,
        )


def check_expired_jobs(event: Event) -> None:
    # What the stream's filter passes (DynamoDB's TTL deletes of job items), read as the function reads it.
    pattern = stream_filter("job_expiry", event)
    for raw in event["Records"]:
        assert {k: [v] for k, v in raw["userIdentity"].items()} == pattern["userIdentity"]
        assert [raw["dynamodb"]["Keys"]["sk"]["S"]] == pattern["dynamodb"]["Keys"]["sk"]["S"]
        assert job_owner(raw["dynamodb"]["OldImage"]) == (
            raw["dynamodb"]["OldImage"]["tenantId"]["S"],
            keys.job_id_of_partition(raw["dynamodb"]["Keys"]["pk"]["S"]),
        )


def check_retry_messages(event: Event) -> None:
    SqsModel.model_validate(event)
    for record in event["Records"]:
        RetryMessage.model_validate_json(record["body"])


def check_execution_ended(event: Event) -> None:
    pattern = event_source("execution_reconciler", "EventBridgeRule")["Pattern"]
    EventBridgeModel.model_validate(event)
    assert event["source"] in pattern["source"]
    assert event["detail-type"] in pattern["detail-type"]
    assert event["detail"]["status"] in pattern["detail"]["status"]


def check_scheduled(event: Event) -> None:
    # The sweeper reads nothing from the event; it must be what a Schedule event sends.
    assert "Schedule" in event_source("job_sweeper", "Schedule")
    EventBridgeModel.model_validate(event)
    assert (event["source"], event["detail-type"]) == ("aws.events", "Scheduled Event")


# code dir -> what its handler does with the event first (raises if it does not accept it).
CHECKS: dict[str, Callable[[Event], object]] = {
    "api": check_api,
    "job_lifecycle": LifecycleRequest.model_validate,
    "demo_step": DemoStepRequest.model_validate,
    "execution_reconciler": check_execution_ended,
    "job_sweeper": check_scheduled,
    "webhook_dispatcher": check_job_events,
    "webhook_retry": check_retry_messages,
    "job_expiry": check_expired_jobs,
    "start_vendor_check": StartVendorCheckRequest.model_validate,
    "background_check_step": lambda event: BACKGROUND_CHECK_ACTIONS[event["action"]].model_validate(event),
    "order_stock": SagaTask.model_validate,
    "order_partners": SagaTask.model_validate,
    "bulk_import_plan": PlanRequest.model_validate,
    "bulk_import_chunk": ChunkRequest.model_validate,
    "bulk_import_finish": FinishRequest.model_validate,
}


def owner(sample_name: str) -> str:
    """The function a sample is for: events/<code dir>.json or events/<code dir>_<what>.json."""
    owners = [code_dir for code_dir in FUNCTIONS if f"{Path(sample_name).stem}_".startswith(f"{code_dir}_")]
    assert owners, f"events/{sample_name} names no function of template.yaml"
    return max(owners, key=len)


def test_every_function_has_a_sample_and_a_check() -> None:
    assert set(CHECKS) == set(FUNCTIONS)
    covered = {owner(sample.name) for sample in SAMPLES}
    assert set(FUNCTIONS) - covered == set()


def test_every_background_check_action_has_a_sample() -> None:
    actions = {json.loads(s.read_text())["action"] for s in EVENTS.glob("background_check_step*.json")}
    assert actions == set(BACKGROUND_CHECK_ACTIONS)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda sample: sample.name)
def test_the_sample_is_accepted_by_its_function(sample: Path) -> None:
    event = json.loads(sample.read_text())
    CHECKS[owner(sample.name)](event)
