"""A cold start builds only what its first request needs (docs/performance.md, "Cold start").

bench/cold_start.py measures the times; these tests keep the cuts from coming undone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from jobgate import aws
from jobgate.registry import load_registry
from jobgate.tenants import TenantCredentials
from tests.api import ApiClient
from tests.conftest import FUNCTION_ENVIRONMENT, REPO, TEMPLATE

# Modules no handler needs to import before its first request: Powertools' OpenAPI models
# (only /openapi.json and /docs use them), requests (only calls to receivers, vendors
# and providers do) and the web console (only its own routes).
NOT_AT_IMPORT = ("aws_lambda_powertools.event_handler.openapi.models", "requests", "jobgate_api.console")
# What jobgate.wiring, which every handler imports, leaves to the factory of the service
# that needs it: only the webhook functions send webhooks, only the sweeper sweeps.
NOT_AT_WIRING_IMPORT = ("jobgate.webhooks.delivery", "jobgate.sweeper", "jobgate.store.uploads")
# The API's import builds no service of a job type: the registry imports a job type when a
# request names it, the vendor callback route imports the background check's code itself.
NOT_AT_API_IMPORT = (*NOT_AT_WIRING_IMPORT, "jobgate.jobtypes")
HANDLERS = {
    name: resource["Properties"]
    for name, resource in TEMPLATE["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
}
HANDLER_MODULES = {name: properties["Handler"].rsplit(".", 1)[0] for name, properties in HANDLERS.items()}


def _after_importing_every_handler(report: str) -> Any:
    """What the code `report` prints (JSON) in a fresh interpreter that imported every handler's module."""
    return _after_importing(sorted(set(HANDLER_MODULES.values())), report)


def _imported(modules: list[str], candidates: tuple[str, ...]) -> list[str]:
    """Which of the candidates (or modules inside them) importing `modules` imports."""
    inside = f"any(m == c or m.startswith(c + '.') for c in {candidates!r})"
    return sorted(_after_importing(modules, f"print(json.dumps([m for m in sys.modules if {inside}]))"))


def _after_importing(modules: list[str], report: str) -> Any:
    """What the code `report` prints (JSON) in a fresh interpreter that imported these modules, with the
    functions' code directories and the layer on its path, as on Lambda."""
    code_dirs = sorted({str(REPO / properties["CodeUri"]) for properties in HANDLERS.values()})
    script = f"import importlib, json, sys\nfor name in {modules!r}: importlib.import_module(name)\n{report}"
    path = os.pathsep.join([*code_dirs, str(REPO / "layers" / "jobgate")])
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **FUNCTION_ENVIRONMENT, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def test_no_handler_imports_the_openapi_models_or_requests() -> None:
    assert _imported(sorted(set(HANDLER_MODULES.values())), NOT_AT_IMPORT) == []


def test_the_wiring_imports_no_service_its_importer_may_not_use() -> None:
    assert _imported(["jobgate.wiring"], NOT_AT_WIRING_IMPORT) == []


def test_the_api_imports_no_job_type_webhook_sender_or_sweeper() -> None:
    assert _imported([HANDLER_MODULES["ApiFunction"]], NOT_AT_API_IMPORT) == []


def test_no_handler_builds_a_model_of_jobgate_at_import() -> None:
    # jobgate.lazy.LazyModel: a model's validator is built when the model is first used.
    built = _after_importing_every_handler(
        "from jobgate.lazy import LazyModel\n"
        "models, todo = [], [LazyModel]\n"
        "while todo:\n"
        "    found = todo.pop().__subclasses__()\n"
        "    models += found\n"
        "    todo += found\n"
        "print(json.dumps(sorted({f'{m.__module__}.{m.__qualname__}' for m in models if m.__pydantic_complete__})))"
    )
    assert built == []


def test_reading_a_job_builds_only_the_dynamodb_client(tenant: TenantCredentials) -> None:
    api = ApiClient(tenant.api_key)
    job_id = api.submit({"steps": 1}).json["id"]
    aws.reset_clients()  # as in a fresh execution environment
    load_registry.cache_clear()

    assert api.get(f"/jobs/{job_id}").status == 200
    assert aws.dynamodb.cache_info().currsize == 1
    assert aws.stepfunctions.cache_info().currsize == 0
    assert aws.s3.cache_info().currsize == 0
    assert load_registry.cache_info().currsize == 0  # no job type imported either


def test_a_client_is_built_by_the_first_call_that_needs_it(tenant: TenantCredentials) -> None:
    api = ApiClient(tenant.api_key)
    aws.reset_clients()

    submitted = api.submit({"steps": 1})

    assert submitted.status == 202
    assert aws.stepfunctions.cache_info().currsize == 1  # the submit started the job's execution
    assert aws.s3.cache_info().currsize == 0
