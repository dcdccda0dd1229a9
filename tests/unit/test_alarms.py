"""template.yaml pages someone for every way the stack can be unwell (docs/operations.md).

Each test derives what must be watched from the template itself (its functions, state
machines, queues that receive dead letters, stream consumers), so a resource added without
its alarms fails here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from jobgate.observability import JOB_TYPE, OUTCOME
from jobgate.observability import Metric as ObservedMetric
from jobgate_cli.local.resources import DeadLetterQueue
from tests.conftest import TEMPLATE

RESOURCES: Mapping[str, Any] = TEMPLATE["Resources"]
FUNCTION_TYPE = "AWS::Serverless::Function"
ALARM_TYPE = "AWS::CloudWatch::Alarm"
CUSTOM_NAMESPACE = "jobgate"
SERVICE_DIMENSION = "service"

# The metrics the functions emit (jobgate.observability.Metric, docs/operations.md "Metrics and
# traces"): metric name -> its dimensions besides `service`. An alarm or a dashboard widget on
# any other name or dimension set would watch a metric that never arrives.
METRIC_CONTRACT: Mapping[str, frozenset[str]] = {
    **dict.fromkeys(
        [
            ObservedMetric.JOBS_SUBMITTED,
            ObservedMetric.JOBS_STARTED,
            ObservedMetric.JOBS_SUCCEEDED,
            ObservedMetric.JOBS_FAILED,
            ObservedMetric.JOBS_CANCELLED,
            ObservedMetric.JOB_DURATION,
            ObservedMetric.TIME_QUEUED,
        ],
        frozenset({JOB_TYPE}),
    ),
    ObservedMetric.WEBHOOK_ATTEMPTS: frozenset({OUTCOME}),
    **dict.fromkeys(
        [
            ObservedMetric.WEBHOOK_DELIVERY_LATENCY,
            ObservedMetric.WEBHOOK_RETRIES_SCHEDULED,
            ObservedMetric.WEBHOOK_DEAD_LETTERED,
            ObservedMetric.RECONCILER_REPAIRS,
            ObservedMetric.SWEEPER_REPAIRS,
            ObservedMetric.STORE_CONFLICTS_RETRIED,
        ],
        frozenset(),
    ),
}
WEBHOOK_OUTCOMES = {"delivered", "failed"}

# A dimension value as the template gives it: ("Ref", X), ("GetAtt", "X.Attr") or a literal.
DimensionValue = tuple[str, str]
Metric = tuple[str, str, frozenset[tuple[str, DimensionValue]]]


def of_type(resource_type: str) -> dict[str, Mapping[str, Any]]:
    return {
        name: resource.get("Properties") or {}
        for name, resource in RESOURCES.items()
        if resource["Type"] == resource_type
    }


ALARMS = of_type(ALARM_TYPE)


def dimension_value(value: object) -> DimensionValue:
    if isinstance(value, Mapping) and "Ref" in value:
        return ("Ref", str(value["Ref"]))
    if isinstance(value, Mapping) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return ("GetAtt", target if isinstance(target, str) else ".".join(target))
    return ("literal", str(value))


def metric(namespace: str, name: str, dimensions: list[Mapping[str, Any]]) -> Metric:
    return (namespace, name, frozenset((str(d["Name"]), dimension_value(d["Value"])) for d in dimensions))


def alarm_metrics(alarm: Mapping[str, Any]) -> set[Metric]:
    """Every metric an alarm reads: its own, or those of its metric math."""
    if "MetricName" in alarm:
        return {metric(alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions", []))}
    stats = [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]
    return {metric(m["Namespace"], m["MetricName"], m.get("Dimensions", [])) for m in stats}


def alarmed(namespace: str, name: str, dimension: str, value: DimensionValue) -> list[str]:
    """Alarms that read `name` of the resource whose `dimension` is `value`."""
    return [
        alarm_id
        for alarm_id, alarm in ALARMS.items()
        if any(
            m[0] == namespace and m[1] == name and (dimension, value) in m[2] and len(m[2]) == 1
            for m in alarm_metrics(alarm)
        )
    ]


def functions() -> dict[str, Mapping[str, Any]]:
    return of_type(FUNCTION_TYPE)


@pytest.mark.parametrize("function", sorted(functions()))
@pytest.mark.parametrize("metric_name", ["Errors", "Throttles"])
def test_every_function_has_an_errors_and_a_throttles_alarm(function: str, metric_name: str) -> None:
    assert alarmed("AWS/Lambda", metric_name, "FunctionName", ("Ref", function)), function


def dead_letter_destinations() -> set[str]:
    """Logical ids of every queue that receives what something else gave up on: a queue's
    RedrivePolicy target, a function's DeadLetterQueue, an event source's OnFailure
    destination, an EventBridge rule's DeadLetterConfig (SAM creates that queue)."""
    queues: set[str] = set()
    for properties in of_type("AWS::SQS::Queue").values():
        if "RedrivePolicy" in properties:
            queues.add(properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0])
    for function, properties in functions().items():
        if "DeadLetterQueue" in properties:
            queues.add(properties["DeadLetterQueue"]["TargetArn"]["Fn::GetAtt"][0])
        for event_name, event in (properties.get("Events") or {}).items():
            event_properties = event.get("Properties") or {}
            on_failure = (event_properties.get("DestinationConfig") or {}).get("OnFailure")
            if on_failure:
                queues.add(on_failure["Destination"]["Fn::GetAtt"][0])
            if (event_properties.get("DeadLetterConfig") or {}).get("Type") == "SQS":
                queues.add(DeadLetterQueue(function, event_name).name)
    return queues


def test_the_dead_letter_destinations_are_found() -> None:
    # The webhook DLQ (the retry queue's redrive target), the stream's on-failure queue, the
    # reconciler's rule and function DLQs and the sweeper's function DLQ.
    assert {"WebhookDeadLetterQueue", "WebhookStreamFailureQueue", "JobSweeperDeadLetterQueue"} <= (
        dead_letter_destinations()
    )


@pytest.mark.parametrize("queue", sorted(dead_letter_destinations()))
def test_every_dead_letter_and_on_failure_queue_alarms_on_its_first_message(queue: str) -> None:
    names = alarmed("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", ("GetAtt", f"{queue}.QueueName"))
    assert names, queue
    alarm = ALARMS[names[0]]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["Statistic"] == "Maximum"


@pytest.mark.parametrize("machine", sorted(of_type("AWS::Serverless::StateMachine")))
@pytest.mark.parametrize("metric_name", ["ExecutionsFailed", "ExecutionsTimedOut"])
def test_every_state_machine_has_failed_and_timed_out_alarms(machine: str, metric_name: str) -> None:
    assert alarmed("AWS/States", metric_name, "StateMachineArn", ("Ref", machine)), machine


def stream_consumers() -> list[str]:
    return sorted(
        function
        for function, properties in functions().items()
        if any(event["Type"] in {"DynamoDB", "Kinesis"} for event in (properties.get("Events") or {}).values())
    )


def test_the_stream_consumers_are_found() -> None:
    assert "WebhookDispatcherFunction" in stream_consumers()


@pytest.mark.parametrize("function", stream_consumers())
def test_every_stream_triggered_function_alarms_on_its_iterator_age(function: str) -> None:
    assert alarmed("AWS/Lambda", "IteratorAge", "FunctionName", ("Ref", function)), function


@pytest.mark.parametrize("api", sorted(of_type("AWS::Serverless::HttpApi")))
def test_every_http_api_alarms_on_5xx(api: str) -> None:
    assert alarmed("AWS/ApiGateway", "5xx", "ApiId", ("Ref", api)), api


@pytest.mark.parametrize("alarm_id", sorted(ALARMS))
def test_every_alarm_notifies_the_topic_when_it_fires_and_when_it_clears(alarm_id: str) -> None:
    alarm = ALARMS[alarm_id]
    topic = [{"Ref": "AlarmTopic"}]
    assert (alarm["AlarmActions"], alarm["OKActions"]) == (topic, topic)
    # Chosen, not left to CloudWatch's default (missing = missing, which never clears).
    assert alarm["TreatMissingData"] in {"notBreaching", "breaching", "ignore", "missing"}


def test_the_alarm_email_is_subscribed_only_when_one_is_given() -> None:
    subscriptions = [resource for resource in RESOURCES.values() if resource["Type"] == "AWS::SNS::Subscription"]
    assert [s["Properties"]["TopicArn"] for s in subscriptions] == [{"Ref": "AlarmTopic"}]
    assert TEMPLATE["Parameters"]["AlarmEmail"]["Default"] == ""
    condition = TEMPLATE["Conditions"][subscriptions[0]["Condition"]]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}


def custom_alarm_metrics() -> list[Metric]:
    return [m for alarm in ALARMS.values() for m in alarm_metrics(alarm) if m[0] == CUSTOM_NAMESPACE]


def test_the_custom_metric_alarms_watch_webhook_failures_and_both_repairs() -> None:
    assert {m[1] for m in custom_alarm_metrics()} == {"WebhookAttempts", "ReconcilerRepairs", "SweeperRepairs"}


@pytest.mark.parametrize("custom", custom_alarm_metrics(), ids=lambda m: m[1])
def test_custom_metric_alarms_name_metrics_and_dimensions_of_the_contract(custom: Metric) -> None:
    _, name, dimensions = custom
    assert name in METRIC_CONTRACT
    assert {d for d, _ in dimensions} == {SERVICE_DIMENSION, *METRIC_CONTRACT[name]}
    values = dict(dimensions)
    assert values[SERVICE_DIMENSION] == ("literal", "jobgate")
    if "Outcome" in values:
        assert values["Outcome"][1] in WEBHOOK_OUTCOMES


def test_the_webhook_failure_ratio_reads_both_outcomes() -> None:
    (ratio,) = [a for a in ALARMS.values() if {m[1] for m in alarm_metrics(a)} == {"WebhookAttempts"}]
    outcomes = {dict(m[2])["Outcome"][1] for m in alarm_metrics(ratio)}
    assert outcomes == WEBHOOK_OUTCOMES
    assert ratio["ComparisonOperator"] == "GreaterThanThreshold"
    assert 0 < ratio["Threshold"] < 1


def dashboard_metric_names() -> Iterator[str]:
    """Custom metric names the dashboard reads, in widgets' metric arrays and SEARCH expressions."""
    (dashboard,) = of_type("AWS::CloudWatch::Dashboard").values()
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", dashboard["DashboardBody"]["Fn::Sub"]))
    for widget in body["widgets"]:
        for line in widget["properties"]["metrics"]:
            if line[0] == CUSTOM_NAMESPACE:
                yield line[1]
            elif isinstance(line[0], dict) and "{" + CUSTOM_NAMESPACE + "," in line[0]["expression"]:
                yield from re.findall(r'MetricName="(\w+)"', line[0]["expression"])


def test_the_dashboard_shows_every_metric_of_the_contract_and_no_other() -> None:
    assert set(dashboard_metric_names()) == set(METRIC_CONTRACT)


def checkov_skips() -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, resource in RESOURCES.items():
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", []):
            yield name, skip


def test_every_checkov_finding_left_is_justified_next_to_its_resource() -> None:
    skips = list(checkov_skips())
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), name
        # A reason, not a placeholder: what protects the resource instead, or why nothing must.
        assert len(skip["comment"].split()) >= 8, (name, skip["id"])


def test_the_contract_covers_every_metric_the_functions_emit() -> None:
    assert set(METRIC_CONTRACT) == set(ObservedMetric)
