"""Start the pollers for the event sources template.yaml declares, its schedules, and the TTL sweeper."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3

from jobgate_cli.local.endpoints import LocalEndpoints
from jobgate_cli.local.queues import LAMBDA_CONCURRENT_BATCHES, SqsMappingConfig, SqsPoller
from jobgate_cli.local.runtime import FunctionRuntime
from jobgate_cli.local.schedules import ScheduledInvoker
from jobgate_cli.local.streams import DynamoDBStreamPoller, StreamMappingConfig
from jobgate_cli.local.template_model import LocalTemplate
from jobgate_cli.local.ttl import TtlDeletions, TtlSweeper
from jobgate_cli.sam_template import LOCAL_ACCOUNT_ID, LOCAL_REGION

Stop = Callable[[], None]


class UnresolvableReference(ValueError):
    pass


def arn_resolver(template: LocalTemplate, dynamodb: Any) -> Callable[[Any], str]:
    """Turn `!GetAtt Table.StreamArn` / `!GetAtt Queue.Arn` (or a literal ARN) into the local ARN."""

    def resolve(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, Mapping) and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            logical_id, attribute = target if isinstance(target, list) else str(target).split(".", 1)
            resource_type = template.resources.get(logical_id, {}).get("Type")
            name = template.physical_names.get(logical_id, logical_id)
            if resource_type == "AWS::DynamoDB::Table" and attribute == "StreamArn":
                return str(dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"])
            if resource_type == "AWS::SQS::Queue" and attribute == "Arn":
                return f"arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:{name}"
        raise UnresolvableReference(f"the local stack cannot resolve {value!r}")

    return resolve


def start_event_sources(
    template: LocalTemplate,
    runtime: FunctionRuntime,
    endpoints: LocalEndpoints,
    ttl_sweep_seconds: float,
    time_scale: float = 1.0,
) -> list[Stop]:
    session = boto3.session.Session()
    dynamodb = endpoints.client("dynamodb", session)
    streams = endpoints.client("dynamodbstreams", session)
    sqs = endpoints.client("sqs", session)
    resolve = arn_resolver(template, dynamodb)
    stops: list[Stop] = []
    ttl_deletions = TtlDeletions()
    for function in template.functions.values():

        def invoke(event: dict[str, Any], name: str = function.function_name) -> Any:
            return runtime.invoke(name, event)

        for properties in function.events_of_type("DynamoDB").values():
            stream_config = StreamMappingConfig.from_template_event(properties, resolve)
            if stream_config.enabled:
                poller = DynamoDBStreamPoller(
                    streams, sqs, invoke, stream_config, function_arn=function.arn, ttl_deletions=ttl_deletions
                )
                poller.start()
                stops.append(poller.stop)
        for properties in function.events_of_type("SQS").values():
            queue_config = SqsMappingConfig.from_template_event(properties, resolve)
            if queue_config.enabled:
                sqs_poller = SqsPoller(sqs, invoke, queue_config, concurrent_batches=LAMBDA_CONCURRENT_BATCHES)
                sqs_poller.start()
                stops.append(sqs_poller.stop)
        for event_name, properties in function.events_of_type("Schedule").items():
            schedule = ScheduledInvoker.from_template_event(
                f"{function.logical_id}.{event_name}", invoke, properties, time_scale
            )
            if schedule is not None:
                schedule.start()
                stops.append(schedule.stop)
    sweeper = TtlSweeper(dynamodb, interval=ttl_sweep_seconds, deletions=ttl_deletions)
    sweeper.start()
    stops.append(sweeper.stop)
    return stops
