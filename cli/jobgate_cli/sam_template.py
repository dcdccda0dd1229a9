"""Read jobgate's SAM template: parameters and state machine definitions.

The local stack and the tools read ``template.yaml`` itself rather than a copy of
its facts, so the template stays the one place where they are written down.
"""

from __future__ import annotations

import copy
import functools
import importlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

__all__ = [
    "LOCAL_ACCOUNT_ID",
    "LOCAL_PARTITION",
    "LOCAL_REGION",
    "LOCAL_STACK_NAME",
    "MissingSubstitutionError",
    "TemplateError",
    "default_substitutions",
    "global_environment",
    "load_template",
    "parameter_defaults",
    "render_state_machine_definition",
    "render_state_machine_definitions",
    "state_machine_ids",
]

# moto's default account and region, which the local stack uses as well.
LOCAL_ACCOUNT_ID: Final = "123456789012"
LOCAL_REGION: Final = "us-east-1"
LOCAL_PARTITION: Final = "aws"
# What SAM CLI's own resolver answers for AWS::StackName.
LOCAL_STACK_NAME: Final = "local"

STATE_MACHINE_TYPE: Final = "AWS::Serverless::StateMachine"
FUNCTION_TYPES: Final = frozenset({"AWS::Serverless::Function", "AWS::Lambda::Function"})

_PSEUDO_PARAMETERS: Final[Mapping[str, str]] = {
    "AWS::AccountId": LOCAL_ACCOUNT_ID,
    "AWS::Region": LOCAL_REGION,
    "AWS::Partition": LOCAL_PARTITION,
    "AWS::StackName": LOCAL_STACK_NAME,
    "AWS::URLSuffix": "amazonaws.com",
}

# CloudFormation's placeholder syntax: ${Name}, and ${!Name} for a literal ${Name}.
_PLACEHOLDER: Final = re.compile(r"\$\{(!?)([^}]*)\}")


class TemplateError(ValueError):
    """The template (or a file it points at) cannot be read as jobgate expects."""


class MissingSubstitutionError(TemplateError):
    """A state machine definition uses ${Name} placeholders that were given no value."""

    def __init__(self, logical_id: str, definition_path: Path, names: list[str]) -> None:
        self.logical_id = logical_id
        self.definition_path = definition_path
        self.names = names
        super().__init__(
            f"{logical_id} ({definition_path}): no substitution for " + ", ".join("${" + name + "}" for name in names)
        )


def _yaml_parser() -> Callable[[str], Any]:
    # Imported by name: SAM CLI and cfn-lint ship no type information, and either is
    # enough. SAM CLI's loader is preferred because it is the one `sam` itself uses.
    parse: Callable[[str], Any]
    try:
        parse = importlib.import_module("samcli.yamlhelper").yaml_parse
    except ImportError:
        parse = importlib.import_module("cfnlint.decode.cfn_yaml").loads
    return parse


def _parse(text: str, source: Path) -> object:
    try:
        return _yaml_parser()(text)
    except ImportError as error:
        raise TemplateError("reading a SAM template needs aws-sam-cli or cfn-lint installed") from error
    except Exception as error:  # the parsers raise their own YAML/JSON error types
        raise TemplateError(f"{source}: not valid YAML or JSON: {error}") from error


def load_template(path: Path) -> dict[str, Any]:
    """Parse a SAM/CloudFormation template, short-form tags (!Ref, !Sub, ...) included.

    Short forms come back in their long form: ``!Ref X`` is ``{"Ref": "X"}`` and
    ``!GetAtt X.Arn`` is ``{"Fn::GetAtt": ["X", "Arn"]}``.
    """
    status = path.stat()
    # A copy: callers may change what they get (parameter overrides).
    return copy.deepcopy(_load_unchanged(path.resolve(), status.st_mtime_ns, status.st_size))


@functools.lru_cache(maxsize=8)
def _load_unchanged(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    """Parsed once per version of the file: the pure-Python YAML parse of template.yaml takes
    ~0.4 s, and a local stack's start reads it three times."""
    template = _parse(path.read_text(encoding="utf-8"), path)
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources mapping)")
    return dict(template)


def _resources(template: Mapping[str, Any]) -> Mapping[str, Any]:
    resources = template.get("Resources")
    if not isinstance(resources, Mapping):
        raise TemplateError("the template has no Resources mapping")
    return resources


def _properties(template: Mapping[str, Any], logical_id: str) -> Mapping[str, Any]:
    resource = _resources(template).get(logical_id)
    if not isinstance(resource, Mapping):
        raise TemplateError(f"the template has no resource {logical_id}")
    properties = resource.get("Properties", {})
    if not isinstance(properties, Mapping):
        raise TemplateError(f"{logical_id}: Properties is not a mapping")
    return properties


def _scalar_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_scalar_text(item) for item in value)
    return str(value)


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    """Default value of every template parameter that has one, as CloudFormation passes it (text)."""
    parameters = template.get("Parameters") or {}
    if not isinstance(parameters, Mapping):
        raise TemplateError("Parameters is not a mapping")
    return {
        str(name): _scalar_text(spec["Default"])
        for name, spec in parameters.items()
        if isinstance(spec, Mapping) and "Default" in spec
    }


def global_environment(template: Mapping[str, Any]) -> dict[str, str]:
    """Globals' function environment as far as the template alone says it: literals, and
    parameters at their defaults (``!Ref P``, ``!Join [",", !Ref P]``). Variables that name a
    resource or the stack (``!Ref JobsTable``, ``!Sub``) are left out: only a stack has them."""
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    variables = (function_globals.get("Environment") or {}).get("Variables") or {}
    defaults = parameter_defaults(template)
    resolved = {str(name): _parameter_text(value, defaults) for name, value in variables.items()}
    return {name: text for name, text in resolved.items() if text is not None}


def _parameter_text(value: object, defaults: Mapping[str, str]) -> str | None:
    if isinstance(value, (str, int, float, bool)):
        return _scalar_text(value)
    if isinstance(value, Mapping) and set(value) == {"Ref"}:
        return defaults.get(str(value["Ref"]))
    if isinstance(value, Mapping) and set(value) == {"Fn::Join"}:
        delimiter, parts = value["Fn::Join"]
        if isinstance(parts, Mapping):  # a list parameter: its default is comma-separated text
            listed = _parameter_text(parts, defaults)
            return None if listed is None else str(delimiter).join(listed.split(","))
        texts = [_parameter_text(part, defaults) for part in parts]
        return None if None in texts else str(delimiter).join(t for t in texts if t is not None)
    return None


def state_machine_ids(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of the SAM state machines whose definition is a file (DefinitionUri), in template order."""
    return [
        str(logical_id)
        for logical_id, resource in _resources(template).items()
        if isinstance(resource, Mapping)
        and resource.get("Type") == STATE_MACHINE_TYPE
        and "DefinitionUri" in (resource.get("Properties") or {})
    ]


def _definition_path(template: Mapping[str, Any], logical_id: str, template_dir: Path) -> Path:
    uri = _properties(template, logical_id).get("DefinitionUri")
    if not isinstance(uri, str) or uri.startswith("s3://"):
        raise TemplateError(f"{logical_id}: DefinitionUri must be a local file path, not {uri!r}")
    return template_dir / uri


def _substitute(text: str, logical_id: str, path: Path, substitutions: Mapping[str, str]) -> str:
    missing = sorted(
        {m.group(2) for m in _PLACEHOLDER.finditer(text) if not m.group(1) and m.group(2) not in substitutions}
    )
    if missing:
        raise MissingSubstitutionError(logical_id, path, missing)

    def replace(match: re.Match[str]) -> str:
        literal, name = match.group(1), match.group(2)
        return "${" + name + "}" if literal else substitutions[name]

    return _PLACEHOLDER.sub(replace, text)


def render_state_machine_definition(
    template: Mapping[str, Any],
    logical_id: str,
    template_dir: Path,
    substitutions: Mapping[str, str],
) -> str:
    """The definition file of one state machine with every ${Name} replaced, as JSON text.

    Substitution is textual, as CloudFormation's is, so a placeholder may stand for a
    number outside quotes. A JSON file is returned as substituted; a YAML one is
    converted to JSON. Raises MissingSubstitutionError naming every unknown placeholder.
    """
    path = _definition_path(template, logical_id, template_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TemplateError(f"{logical_id}: cannot read DefinitionUri {path}: {error}") from error
    rendered = _substitute(text, logical_id, path, substitutions)
    if path.suffix.lower() == ".json":
        try:
            json.loads(rendered)
        except ValueError as error:
            raise TemplateError(f"{logical_id}: {path} is not valid JSON once substituted: {error}") from error
        return rendered
    definition = _parse(rendered, path)
    if not isinstance(definition, Mapping):
        raise TemplateError(f"{logical_id}: {path} does not hold a state machine definition")
    return json.dumps(definition, indent=2)


def render_state_machine_definitions(
    template: Mapping[str, Any],
    template_dir: Path,
    substitutions: Mapping[str, str],
) -> dict[str, str]:
    """Logical id -> rendered JSON definition, for every state machine with a DefinitionUri."""
    return {
        logical_id: render_state_machine_definition(template, logical_id, template_dir, substitutions)
        for logical_id in state_machine_ids(template)
    }


def _resolve_ref(
    template: Mapping[str, Any], name: str, defaults: Mapping[str, str], function_names: Mapping[str, str]
) -> str:
    if name in defaults:
        return defaults[name]
    if name in _PSEUDO_PARAMETERS:
        return _PSEUDO_PARAMETERS[name]
    resource = _resources(template).get(name)
    if isinstance(resource, Mapping) and resource.get("Type") in FUNCTION_TYPES:
        return function_names.get(name, name)
    raise TemplateError(f"cannot resolve Ref {name} locally (not a parameter with a default, nor a function)")


def _resolve_get_att(template: Mapping[str, Any], target: object, function_names: Mapping[str, str]) -> str:
    if isinstance(target, str):
        target = target.split(".", 1)
    if not (isinstance(target, list) and len(target) == 2 and all(isinstance(part, str) for part in target)):
        raise TemplateError(f"malformed Fn::GetAtt {target!r}")
    logical_id, attribute = target
    resource = _resources(template).get(logical_id)
    if attribute == "Arn" and isinstance(resource, Mapping) and resource.get("Type") in FUNCTION_TYPES:
        name = function_names.get(logical_id, logical_id)
        return f"arn:{LOCAL_PARTITION}:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:function:{name}"
    raise TemplateError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute} locally (only a function's Arn)")


def default_substitutions(
    template: Mapping[str, Any],
    logical_id: str,
    *,
    function_names: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """DefinitionSubstitutions of one state machine, resolved for the local stack.

    ``!Ref Param`` becomes the parameter's default, ``!Ref AWS::Region`` and the other
    pseudo parameters moto's values, and ``!GetAtt Fn.Arn`` the ARN
    ``arn:aws:lambda:us-east-1:123456789012:function:<name>``, where <name> is the
    logical id unless ``function_names`` maps it to another name.
    """
    names = function_names or {}
    raw = _properties(template, logical_id).get("DefinitionSubstitutions") or {}
    if not isinstance(raw, Mapping):
        raise TemplateError(f"{logical_id}: DefinitionSubstitutions is not a mapping")
    defaults = parameter_defaults(template)
    resolved: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, Mapping) and set(value) == {"Ref"}:
            resolved[str(key)] = _resolve_ref(template, str(value["Ref"]), defaults, names)
        elif isinstance(value, Mapping) and set(value) == {"Fn::GetAtt"}:
            resolved[str(key)] = _resolve_get_att(template, value["Fn::GetAtt"], names)
        elif isinstance(value, (str, int, float, bool)):
            resolved[str(key)] = _scalar_text(value)
        else:
            raise TemplateError(f"{logical_id}: cannot resolve DefinitionSubstitutions.{key} = {value!r} locally")
    return resolved
