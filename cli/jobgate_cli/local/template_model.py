"""What the local stack runs, read from template.yaml through SAM CLI's own template readers.

SAM CLI resolves parameters (with overrides), pseudo parameters (moto's account and
region, stack name `local`) and most intrinsics; this module adds the few names the
local stack chooses itself (bucket names must be lowercase) and nothing else: no second,
hand-kept list of functions, routes or state machines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.provider import Api, Stack
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

from jobgate_cli.sam_template import (
    LOCAL_ACCOUNT_ID,
    LOCAL_REGION,
    LOCAL_STACK_NAME,
    default_substitutions,
    load_template,
    render_state_machine_definition,
)

TIME_PARAMETERS_METADATA_KEY = "TimeParameters"
SECRET_TYPE = "AWS::SecretsManager::Secret"


@dataclass(frozen=True)
class LocalFunction:
    logical_id: str
    function_name: str
    handler: str
    code_dir: Path
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str]
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    # ReservedConcurrentExecutions (the function's own or Globals'); None: none reserved.
    reserved_concurrency: int | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:function:{self.function_name}"

    def events_of_type(self, event_type: str) -> dict[str, dict[str, Any]]:
        return {name: e.get("Properties") or {} for name, e in self.events.items() if e.get("Type") == event_type}


@dataclass(frozen=True)
class LocalStateMachine:
    logical_id: str
    name: str
    machine_type: str
    definition: str

    @property
    def arn(self) -> str:
        return f"arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:stateMachine:{self.name}"


@dataclass(frozen=True)
class LocalTemplate:
    template_path: Path
    raw: dict[str, Any]
    resources: dict[str, Any]
    functions: dict[str, LocalFunction]
    state_machines: list[LocalStateMachine]
    api: Api
    physical_names: dict[str, str]

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v.get("Properties") or {} for k, v in self.resources.items() if v.get("Type") == resource_type}

    def function_by_name(self, name: str) -> LocalFunction:
        for function in self.functions.values():
            if name in (function.function_name, function.logical_id):
                return function
        raise KeyError(name)

    def stream_arn_of(self, table_logical_id: str) -> str:
        return (
            f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:table/{self.physical_names[table_logical_id]}/stream"
        )


def time_parameters(template: Mapping[str, Any]) -> list[str]:
    """Parameters that are durations slept in real time (the template lists them in its Metadata)."""
    names = (template.get("Metadata") or {}).get("jobgate", {}).get(TIME_PARAMETERS_METADATA_KEY, [])
    return [str(name) for name in names]


def scaled_time_overrides(template: Mapping[str, Any], scale: float) -> dict[str, str]:
    """Each time parameter's default times `scale`, never below 1 s (Step Functions' minimum)."""
    parameters = template.get("Parameters") or {}
    overrides: dict[str, str] = {}
    for name in time_parameters(template):
        defaults = str(parameters[name]["Default"]).split(",")  # a Number or a CommaDelimitedList
        overrides[name] = ",".join(str(max(1, round(float(value) * scale))) for value in defaults)
    return overrides


def queue_url(queue_name: str) -> str:
    """What `!Ref Queue` gives; moto reads the queue name from the path whatever the host."""
    return f"https://sqs.{LOCAL_REGION}.amazonaws.com/{LOCAL_ACCOUNT_ID}/{queue_name}"


def physical_name(logical_id: str, resource_type: str) -> str:
    """The name the local stack gives a resource that the template leaves unnamed."""
    if resource_type == "AWS::S3::Bucket":
        return f"{LOCAL_STACK_NAME}-{logical_id.lower()}"
    return logical_id


def load_local_template(template_path: Path, parameter_overrides: Mapping[str, str] | None = None) -> LocalTemplate:
    raw = load_template(template_path)
    # The template already read (SAM CLI would parse the file again); it keeps its own copy.
    stacks, _ = SamLocalStackProvider.get_stacks(
        template_dictionary=load_template(template_path), parameter_overrides=dict(parameter_overrides or {})
    )
    stack: Stack = stacks[0]
    resources: dict[str, Any] = dict(stack.resources)
    physical_names = {
        logical_id: physical_name(logical_id, resource["Type"])
        for logical_id, resource in resources.items()
        if resource["Type"] in {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue", SECRET_TYPE}
    }
    # What `!Ref` gives for each: a name, or for a queue its URL. A secret's Ref is its ARN in
    # AWS; here its name, which Secrets Manager takes wherever it takes the ARN (moto's ARN ends
    # in a random suffix, known only once the secret exists).
    ref_values = {
        logical_id: queue_url(name) if resources[logical_id]["Type"] == "AWS::SQS::Queue" else name
        for logical_id, name in physical_names.items()
    }
    arn_fixer = _SamArnFixer(resources, physical_names)
    resources = arn_fixer.fix(resources)
    base_dir = template_path.parent
    functions = {
        f.name: LocalFunction(
            logical_id=f.name,
            function_name=f.functionname,
            handler=str(f.handler),
            code_dir=(base_dir / str(f.codeuri)).resolve(),
            timeout_seconds=int(f.timeout or 3),
            memory_mb=int(f.memory or 128),
            environment=_environment(f.environment, ref_values),
            events=arn_fixer.fix(dict(f.events or {})),
            reserved_concurrency=_reserved_concurrency(f.name, resources.get(f.name, {}).get("Properties") or {}),
        )
        for f in SamFunctionProvider(stacks).get_all()
    }
    function_names = {f.logical_id: f.function_name for f in functions.values()}
    resolved_template = {"Parameters": raw.get("Parameters", {}), "Resources": resources}
    state_machines = [
        LocalStateMachine(
            logical_id=logical_id,
            name=str(resource["Properties"].get("Name") or logical_id),
            machine_type=str(resource["Properties"].get("Type", "STANDARD")),
            definition=render_state_machine_definition(
                resolved_template,
                logical_id,
                base_dir,
                default_substitutions(resolved_template, logical_id, function_names=function_names),
            ),
        )
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::StateMachine"
    ]
    return LocalTemplate(
        template_path=template_path,
        raw=raw,
        resources=resources,
        functions=functions,
        state_machines=state_machines,
        api=ApiProvider(stacks).api,
        physical_names=physical_names,
    )


def _reserved_concurrency(logical_id: str, properties: Mapping[str, Any]) -> int | None:
    value = properties.get("ReservedConcurrentExecutions")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ValueError(f"{logical_id}: ReservedConcurrentExecutions must be a whole number, got {value!r}")
    return int(value)


def _environment(environment: Mapping[str, Any] | None, ref_values: Mapping[str, str]) -> dict[str, str]:
    """SAM CLI resolves `!Ref Resource` to the logical id; use what the local resource's Ref gives."""
    variables = (environment or {}).get("Variables") or {}
    return {str(k): ref_values.get(str(v), str(v)) for k, v in variables.items()}


class _SamArnFixer:
    """SAM CLI resolves every `!GetAtt X.Arn` to a Lambda function ARN named after X's logical
    id, even when X is a queue or a function with a FunctionName. Put the right ARN back."""

    _SAM_GUESS = f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:function:"

    def __init__(self, resources: Mapping[str, Any], physical_names: Mapping[str, str]) -> None:
        self._arns: dict[str, str] = {}
        for logical_id, resource in resources.items():
            properties = resource.get("Properties") or {}
            if resource["Type"] == "AWS::SQS::Queue":
                self._arns[logical_id] = f"arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:{physical_names[logical_id]}"
            elif resource["Type"] == "AWS::DynamoDB::Table":
                name = physical_names[logical_id]
                self._arns[logical_id] = f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:table/{name}"
            elif resource["Type"] == "AWS::Serverless::Function" and properties.get("FunctionName"):
                self._arns[logical_id] = self._SAM_GUESS + str(properties["FunctionName"])

    def fix(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(self._SAM_GUESS):
            return self._arns.get(value.removeprefix(self._SAM_GUESS), value)
        if isinstance(value, dict):
            return {key: self.fix(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.fix(item) for item in value]
        return value
