"""schemathesis against the local stack: every answer is one /openapi.json declares, never a 5xx.

Bounded (a few examples per operation, short stateful scenarios) so it fits in `make test`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.stateful.state_machine import APIStateMachine
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from jobgate_cli.local.stack import LocalStack
from tests.e2e.conftest import API_KEY, start_local_stack

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
AUTHORIZATION = {"Authorization": f"Bearer {API_KEY}"}
# A job that finishes at once, so the links from POST /jobs reach results and purges.
DEMO_JOB = {"type": "demo", "input": {"steps": 1, "stepSeconds": 0}}
EXAMPLES_PER_OPERATION = 25
FUZZ_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,  # the same requests every run: a failure here is reproducible
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)


@pytest.fixture(scope="module")
def fuzzed_stack() -> Iterator[LocalStack]:
    stack = start_local_stack()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def api_schema(fuzzed_stack: LocalStack) -> Any:
    schema = schemathesis.openapi.from_url(f"{fuzzed_stack.api_url}/openapi.json")

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> Any:
        # Random bodies mostly get 422 (no such job type); mix in demo jobs that are accepted.
        operation = context.operation
        if operation is not None and (operation.method.upper(), operation.path) == ("POST", "/jobs"):
            return st.sampled_from([body, DEMO_JOB])
        return st.just(body)

    return schema


def test_every_operation_answers_as_declared(api_schema: Any, fuzzed_stack: LocalStack) -> None:
    # One Hypothesis run per operation (schemathesis.pytest.from_fixture needs pytest internals
    # that pytest 9 no longer has, so the operations are walked here).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 10
    for operation in operations:

        @FUZZ_SETTINGS
        @hypothesis.given(case=operation.as_strategy())
        def answers_as_declared(case: Any) -> None:
            case.call_and_validate(base_url=fuzzed_stack.api_url, headers=AUTHORIZATION, checks=CHECKS)

        answers_as_declared()


def test_linked_operations_answer_as_declared(api_schema: Any, fuzzed_stack: LocalStack) -> None:
    machine: type[APIStateMachine] = api_schema.as_state_machine()

    class JobScenarios(machine):  # type: ignore[valid-type, misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": fuzzed_stack.api_url, "headers": AUTHORIZATION}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    JobScenarios.run(settings=hypothesis.settings(FUZZ_SETTINGS, max_examples=15, stateful_step_count=6))
