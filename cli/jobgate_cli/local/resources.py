"""Create the template's resources in the local stack's endpoints, from template.yaml."""

from __future__ import annotations

import io
import json
import secrets
import string
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from jobgate_cli.local.endpoints import LocalEndpoints
from jobgate_cli.local.template_model import SECRET_TYPE, LocalTemplate
from jobgate_cli.provision import create_bucket, create_table_from_template

EXECUTION_ROLE_NAME = "jobgate-local-execution"


@dataclass(frozen=True)
class DeadLetterQueue:
    """The SQS queue SAM creates for an EventBridgeRule event's `DeadLetterConfig: {Type: SQS}`."""

    function_logical_id: str
    event_name: str

    @property
    def name(self) -> str:
        return f"{self.function_logical_id}{self.event_name}Queue"


def implied_dead_letter_queues(template: LocalTemplate) -> list[DeadLetterQueue]:
    return [
        DeadLetterQueue(function.logical_id, event_name)
        for function in template.functions.values()
        for event_name, properties in function.events_of_type("EventBridgeRule").items()
        if (properties.get("DeadLetterConfig") or {}).get("Type") == "SQS"
    ]


def generated_secrets(template: Mapping[str, Any]) -> dict[str, str]:
    """A value for each AWS::SecretsManager::Secret, as CloudFormation makes one from its
    GenerateSecretString at deploy (its length, and letters and digits only when it excludes
    punctuation): new for each start of the local stack, as for each new stack."""
    values: dict[str, str] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != SECRET_TYPE:
            continue
        spec = (resource.get("Properties") or {}).get("GenerateSecretString") or {}
        alphabet = string.ascii_letters + string.digits
        if not spec.get("ExcludePunctuation"):
            alphabet += string.punctuation
        length = int(spec.get("PasswordLength", 32))
        values[str(logical_id)] = "".join(secrets.choice(alphabet) for _ in range(length))
    return values


def provision(template: LocalTemplate, endpoints: LocalEndpoints, secret_values: Mapping[str, str]) -> dict[str, str]:
    """Create everything (each secret with its value from `secret_values`); returns queue name -> queue URL."""
    session = boto3.session.Session()
    secretsmanager = endpoints.client("secretsmanager", session)
    for logical_id in template.resources_of_type(SECRET_TYPE):
        secretsmanager.create_secret(Name=template.physical_names[logical_id], SecretString=secret_values[logical_id])
    dynamodb = endpoints.client("dynamodb", session)
    for logical_id in template.resources_of_type("AWS::DynamoDB::Table"):
        create_table_from_template(dynamodb, template.raw, logical_id, template.physical_names[logical_id])
    s3 = endpoints.client("s3", session)
    for logical_id in template.resources_of_type("AWS::S3::Bucket"):
        create_bucket(s3, template.physical_names[logical_id])
    queue_urls = _create_queues(template, endpoints.client("sqs", session))
    role_arn = _create_execution_role(endpoints.client("iam", session))
    _register_functions(template, endpoints.client("lambda", session), role_arn)
    stepfunctions = endpoints.client("stepfunctions", session)
    for machine in template.state_machines:
        stepfunctions.create_state_machine(
            name=machine.name,
            definition=machine.definition,
            roleArn=role_arn,
            type=machine.machine_type,
        )
    return queue_urls


def _create_queues(template: LocalTemplate, sqs: Any) -> dict[str, str]:
    urls: dict[str, str] = {}
    declared = template.resources_of_type("AWS::SQS::Queue")
    # Queues that others redrive into must exist first.
    for logical_id in sorted(declared, key=lambda q: "RedrivePolicy" in declared[q]):
        properties = declared[logical_id]
        attributes: dict[str, str] = {
            key: str(properties[key])
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")
            if key in properties
        }
        redrive = properties.get("RedrivePolicy")
        if redrive:
            attributes["RedrivePolicy"] = json.dumps(redrive)
        name = template.physical_names[logical_id]
        urls[name] = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    for queue in implied_dead_letter_queues(template):
        urls[queue.name] = sqs.create_queue(QueueName=queue.name)["QueueUrl"]
    return urls


def _create_execution_role(iam: Any) -> str:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role: dict[str, Any] = iam.create_role(RoleName=EXECUTION_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(document))
    return str(role["Role"]["Arn"])


def _register_functions(template: LocalTemplate, lambda_client: Any, role_arn: str) -> None:
    """moto needs a function to exist before Step Functions can call it; the stack's workers run its code."""
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("README.txt", "Runs in the jobgate local stack's worker processes.")
    for function in template.functions.values():
        lambda_client.create_function(
            FunctionName=function.function_name,
            Runtime="python3.12",
            Role=role_arn,
            Handler=function.handler,
            Code={"ZipFile": package.getvalue()},
            Timeout=function.timeout_seconds,
            MemorySize=function.memory_mb,
            Environment={"Variables": function.environment},
        )
