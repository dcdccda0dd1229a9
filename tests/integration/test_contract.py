"""template.yaml, the code and docs/api.md's routes agree: routes, handlers, policies, naming rules."""

from __future__ import annotations

import importlib
from typing import Any

from jobgate.config import Settings
from jobgate_cli.sam_template import global_environment, parameter_defaults
from tests.api import ApiClient
from tests.conftest import TEMPLATE, load_event

API_MD_ROUTES = {
    ("POST", "/jobs"),
    ("GET", "/jobs"),
    ("GET", "/jobs/{id}"),
    ("DELETE", "/jobs/{id}"),
    ("GET", "/jobs/{id}/events"),
    ("GET", "/jobs/{id}/result"),
    ("GET", "/jobs/{id}/deliveries"),
    ("POST", "/jobs/{id}/deliveries/{sequence}/redeliver"),
    ("POST", "/uploads"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/console"),
    ("GET", "/console/{asset+}"),
}
# Pages for people, not operations: the OpenAPI document does not describe them.
PAGES = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/console"), ("GET", "/console/{asset+}")}
# Routes a job type adds for third parties (not tenants): background-check vendors' signed callbacks.
JOB_TYPE_ROUTES = {("POST", "/vendor-callbacks/{callbackId}")}
# Statements that AWS allows only on "*" (the action has no resource type), each named on purpose.
RESOURCE_STAR_STATEMENTS = {"ResumeVendorChecks"}  # states:SendTaskSuccess/Failure authorize by task token


def functions() -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


# Unmatched requests reach the function, which answers them with a 404 or 405 problem.
DEFAULT_ROUTE = ("ANY", "$default")


def template_routes() -> set[tuple[str, str]]:
    events = functions()["ApiFunction"]["Events"].values()
    return {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events if e["Type"] == "HttpApi"}


def test_the_template_routes_every_api_md_route_to_the_api_function() -> None:
    assert template_routes() == API_MD_ROUTES | JOB_TYPE_ROUTES | {DEFAULT_ROUTE}


def test_the_openapi_document_describes_the_same_routes(aws_backend: None) -> None:
    spec = ApiClient(None).get("/openapi.json").json
    described = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert not described & PAGES
    described |= PAGES
    assert described == API_MD_ROUTES | JOB_TYPE_ROUTES
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_function_handler_imports_from_its_code_uri() -> None:
    for name, properties in functions().items():
        module_name, _, attribute = properties["Handler"].rpartition(".")
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attribute)), name


def test_each_function_has_its_own_log_group_with_retention() -> None:
    resources = TEMPLATE["Resources"]
    for name, properties in functions().items():
        group = properties["LoggingConfig"]["LogGroup"]["Ref"]
        assert resources[group]["Type"] == "AWS::Logs::LogGroup", name
        assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_no_function_policy_grants_every_resource() -> None:
    for name, properties in functions().items():
        for policy in properties.get("Policies", []):
            for statement in policy.get("Statement", []):
                assert statement["Resource"] != "*" or statement.get("Sid") in RESOURCE_STAR_STATEMENTS, name
                assert not any(action.endswith(":*") for action in statement["Action"]), name


def test_job_state_machines_follow_the_naming_rule_the_api_relies_on() -> None:
    machines = [r for r in TEMPLATE["Resources"].values() if r["Type"] == "AWS::Serverless::StateMachine"]
    assert machines
    for machine in machines:
        assert machine["Properties"]["Name"]["Fn::Sub"].startswith("${AWS::StackName}-job-")


def test_every_sample_event_is_accepted_by_its_function() -> None:
    from jobgate.jobtypes.demo.models import DemoStepRequest
    from jobgate.lifecycle import LifecycleRequest

    assert LifecycleRequest.model_validate(load_event("job_lifecycle_start.json")).action == "start"
    assert LifecycleRequest.model_validate(load_event("job_lifecycle_fail.json")).error is not None
    assert DemoStepRequest.model_validate(load_event("demo_step.json")).step_index == 0
    submit = load_event("api_submit_job.json")
    assert (submit["requestContext"]["http"]["method"], submit["rawPath"]) == ("POST", "/jobs")
    assert load_event("execution_reconciler_timed_out.json")["detail"]["status"] == "TIMED_OUT"


def test_every_setting_is_one_the_template_gives_every_function() -> None:
    # config.Settings repeats no default: each variable it reads must come from the template.
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert {field.alias for field in Settings.model_fields.values()} <= set(variables)


def test_functions_get_the_parameters_at_their_defaults() -> None:
    environment = global_environment(TEMPLATE)
    defaults = parameter_defaults(TEMPLATE)
    assert environment["JOB_RETENTION_DEFAULT"] == defaults["JobRetentionDefault"]
    assert environment["WEBHOOK_RETRY_SCHEDULE"] == defaults["WebhookRetrySchedule"]
    assert environment["POWERTOOLS_SERVICE_NAME"] == "jobgate"
    assert "JOBS_TABLE_NAME" not in environment  # a resource: only a stack has its name
