"""Adding a job type needs no framework change: the steps of docs/job-types.md, done by a test.

The test writes a template = template.yaml + the tiny `greeting` job type's state machine and
task function, registers its module in JobTypeModules, and runs a job through submit ->
status -> webhook in the local stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from jobgate_cli.local.stack import LocalStack
from jobgate_cli.sam_template import load_template
from tests.e2e.conftest import SECRET, Client, eventually, start_local_stack
from tests.e2e.receivers import Receiver, running

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "greeting_job_type"
PATH_PROPERTIES = ("CodeUri", "ContentUri", "DefinitionUri")


def template_with_greeting_job_type(directory: Path) -> Path:
    template = load_template(REPO / "template.yaml")
    for resource in template["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in PATH_PROPERTIES:
            if isinstance(properties.get(key), str):
                properties[key] = str(REPO / properties[key])
    # 1. the task function, 2. the state machine named <stack>-job-<type>, as for any job type
    template["Resources"]["GreetFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "FunctionName": {"Fn::Sub": "${AWS::StackName}-greet"},
            "CodeUri": str(FIXTURE / "functions" / "greet"),
            "Handler": "greet.handler",
        },
    }
    template["Resources"]["GreetingJobStateMachine"] = {
        "Type": "AWS::Serverless::StateMachine",
        "Properties": {
            "Name": {"Fn::Sub": "${AWS::StackName}-job-greeting"},
            "Type": "STANDARD",
            "DefinitionUri": str(FIXTURE / "greeting.asl.json"),
            "DefinitionSubstitutions": {
                "JobLifecycleFunctionArn": {"Fn::GetAtt": ["JobLifecycleFunction", "Arn"]},
                "GreetFunctionArn": {"Fn::GetAtt": ["GreetFunction", "Arn"]},
            },
        },
    }
    path = directory / "template.json"  # JSON is a valid CloudFormation template too
    path.write_text(json.dumps(template, indent=1))
    return path


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    template = template_with_greeting_job_type(tmp_path_factory.mktemp("greeting"))
    modules = load_template(REPO / "template.yaml")["Parameters"]["JobTypeModules"]["Default"]
    # 3. the one registration: its module in JobTypeModules
    stack = start_local_stack(
        template_path=template,
        time_scale=0.01,
        parameter_overrides={"JobTypeModules": f"{modules},tests.fixtures.greeting_job_type"},
    )
    yield stack
    stack.stop()


def test_a_new_job_type_runs_from_submit_to_webhook(client: Client) -> None:
    with running(Receiver()) as receiver:
        response = client.request(
            "POST",
            "/jobs",
            json={"type": "greeting", "input": {"name": "Ada"}, "callback": {"url": receiver.url}},
        )
        assert response.status_code == 202
        job = client.wait_until_terminal(response.json()["id"])
        arrived = eventually(
            lambda: receiver.events_of(job["id"]),
            lambda found: any(r.event["type"] == "job.succeeded" for r in found),
        )
    assert job["status"] == "succeeded"
    assert [s["name"] for s in job["progress"]["steps"]] == ["compose", "polish"]
    assert client.request("GET", f"/jobs/{job['id']}/result").json() == {"greeting": "HELLO, ADA!"}
    verified: list[dict[str, Any]] = [Webhook(SECRET).verify(r.body, r.headers) for r in arrived]
    assert {e["type"] for e in verified} >= {"job.started", "job.step", "job.succeeded"}


def test_its_input_model_validates_submits(client: Client) -> None:
    response = client.request("POST", "/jobs", json={"type": "greeting", "input": {"name": "", "x": 1}})
    assert response.status_code == 422
    assert sorted(e["pointer"] for e in response.json()["errors"]) == ["#/input/name", "#/input/x"]
