"""The local stack: everything `make run` starts, and stops again on Ctrl-C."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import boto3

from jobgate import aws
from jobgate.store.tenants import TenantStore
from jobgate_cli.local.event_source_wiring import start_event_sources
from jobgate_cli.local.eventbridge import EventBus, LambdaRule, step_functions_status_event
from jobgate_cli.local.http_api import LocalHttpApi
from jobgate_cli.local.moto_endpoint import MotoEndpoint
from jobgate_cli.local.resources import implied_dead_letter_queues, provision
from jobgate_cli.local.runtime import FunctionRuntime, InvocationRecord
from jobgate_cli.local.simulators import start_simulators
from jobgate_cli.local.template_model import LocalTemplate, load_local_template, scaled_time_overrides
from jobgate_cli.local.tenants_seed import TenantSeed
from jobgate_cli.sam_template import LOCAL_REGION, load_template
from jobgate_cli.tenants import TenantCredentials, register_tenant

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
DEV_TENANT = "dev"
API_URL_VARIABLE = "API_BASE_URL"
# Webhook receivers on this machine (`jobgate listen`) are reachable only in the local stack.
LOCAL_WEBHOOK_NETWORKS = "127.0.0.1/32,::1/128"


@dataclass
class LocalStackConfig:
    template_path: Path = DEFAULT_TEMPLATE
    host: str = "127.0.0.1"
    port: int = 3000
    aws_port: int = 3001
    time_scale: float = 1.0
    tenants: list[TenantSeed] = field(default_factory=list)
    verbose: bool = False
    log: TextIO | None = None
    ttl_sweep_seconds: float = 5.0
    # Extra template parameter values (e.g. a shorter JobRetentionMin for tests).
    parameter_overrides: dict[str, str] = field(default_factory=dict)


class LocalStack:
    def __init__(self, config: LocalStackConfig) -> None:
        self.config = config
        self.credentials: list[TenantCredentials] = []
        self.template: LocalTemplate | None = None
        self._moto = MotoEndpoint(config.aws_port, config.host)
        self._http: LocalHttpApi | None = None
        self._bus: EventBus | None = None
        self._stoppables: list[Callable[[], None]] = []
        self._log_lock = threading.Lock()

    @property
    def api_url(self) -> str:
        assert self._http is not None
        return self._http.url

    @property
    def aws_url(self) -> str:
        return self._moto.url

    def start(self) -> None:
        config = self.config
        # Powertools reads its log level once, when a handler module is first imported.
        os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO" if config.verbose else "WARNING"
        raw_template = load_template(config.template_path)
        simulators = start_simulators(raw_template, config.host)
        self._stoppables.extend(simulator.stop for simulator in simulators)
        overrides = scaled_time_overrides(raw_template, config.time_scale)
        overrides.update({simulator.parameter: simulator.url for simulator in simulators})
        if "WebhookAllowedNetworks" in (raw_template.get("Parameters") or {}):
            overrides["WebhookAllowedNetworks"] = LOCAL_WEBHOOK_NETWORKS
        overrides.update(config.parameter_overrides)
        template = self.template = load_local_template(config.template_path, overrides)
        runtime = FunctionRuntime(template.functions, {"AWS_REGION": LOCAL_REGION, "AWS_DEFAULT_REGION": LOCAL_REGION})
        runtime.add_listener(self._log_invocation)
        self._moto.start(runtime)
        self._stoppables.append(self._moto.stop)
        aws.reset_clients()  # clients made before AWS_ENDPOINT_URL was set would talk to AWS
        queue_urls = provision(template, self._moto.url)
        self._start_event_bus(template, runtime, queue_urls)
        self._start_event_sources(template, runtime)
        self.credentials = self._seed_tenants(template)
        self._http = LocalHttpApi(template.api, runtime, config.host, config.port)
        self._http.start()
        self._stoppables.append(self._http.stop)
        # Functions that hand out URLs of the API (vendor callbacks) learn where it listens.
        for function in template.functions.values():
            if API_URL_VARIABLE in function.environment:
                function.environment[API_URL_VARIABLE] = self._http.url

    def stop(self) -> None:
        while self._stoppables:
            self._stoppables.pop()()

    def _start_event_bus(self, template: LocalTemplate, runtime: FunctionRuntime, queue_urls: dict[str, str]) -> None:
        dead_letter_urls = {
            (q.function_logical_id, q.event_name): queue_urls[q.name] for q in implied_dead_letter_queues(template)
        }
        rules = [
            LambdaRule.from_template_event(
                f"{function.logical_id}.{event_name}",
                function.function_name,
                properties,
                dead_letter_urls.get((function.logical_id, event_name)),
                self.config.time_scale,
            )
            for function in template.functions.values()
            for event_name, properties in function.events_of_type("EventBridgeRule").items()
        ]
        sqs = boto3.client("sqs", endpoint_url=self._moto.url)

        def send_to_dead_letter_queue(queue_url: str, event: dict[str, Any]) -> None:
            sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))

        bus = self._bus = EventBus(runtime, rules, send_to_dead_letter_queue, self.config.time_scale)

        def publish_status_change(detail: dict[str, Any]) -> None:
            bus.put_event(step_functions_status_event(detail))

        self._moto.on_execution_ended(publish_status_change)
        self._stoppables.append(bus.stop)

    def _start_event_sources(self, template: LocalTemplate, runtime: FunctionRuntime) -> None:
        self._stoppables.extend(start_event_sources(template, runtime, self._moto.url, self.config.ttl_sweep_seconds))

    def _seed_tenants(self, template: LocalTemplate) -> list[TenantCredentials]:
        if "TenantsTable" not in template.physical_names:
            return []  # a template without jobgate's tenants (the tests' fixtures)
        store = TenantStore(
            boto3.client("dynamodb", endpoint_url=self._moto.url), template.physical_names["TenantsTable"]
        )
        seeds = self.config.tenants
        if not seeds:
            return [register_tenant(store, DEV_TENANT)]
        return [
            register_tenant(store, seed.name, api_key=seed.api_key, webhook_secret=seed.webhook_secret)
            for seed in seeds
        ]

    def _log_invocation(self, record: InvocationRecord) -> None:
        out = self.config.log
        if out is None:
            return
        outcome = f"error {record.error_type}" if record.error_type else "ok"
        cold = " (cold start)" if record.cold_start else ""
        line = f"{datetime.now():%H:%M:%S} {record.function_name:<28} {record.duration_ms:8.1f} ms  {outcome}{cold}"
        with self._log_lock:
            print(line, file=out, flush=True)
