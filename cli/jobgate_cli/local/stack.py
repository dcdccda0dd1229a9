"""The local stack: everything `make run` starts, and stops again on Ctrl-C."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from jobgate import aws
from jobgate.store.tenants import TenantStore
from jobgate.tenants import TenantCredentials, register_tenant
from jobgate_cli.billing.capacity_hook import CAPACITY_PRELOAD, CAPACITY_RECORD_VARIABLE
from jobgate_cli.billing.stack_meter import MeterFile, StackMeter
from jobgate_cli.local import metrics as local_metrics
from jobgate_cli.local.dynamodb_local import DynamoDBLocal
from jobgate_cli.local.endpoints import LocalEndpoints
from jobgate_cli.local.event_source_wiring import start_event_sources
from jobgate_cli.local.eventbridge import (
    EventBus,
    LambdaRule,
    asynchronous_invocation_settings,
    step_functions_status_event,
)
from jobgate_cli.local.faults import FAULTS_PRELOAD, FAULTS_VARIABLE, RECORD_VARIABLE, parse_faults
from jobgate_cli.local.http_api import LocalHttpApi
from jobgate_cli.local.moto_endpoint import MotoEndpoint
from jobgate_cli.local.resources import generated_secrets, implied_dead_letter_queues, provision
from jobgate_cli.local.runtime import DEFAULT_CONCURRENCY, DEFAULT_IDLE_SECONDS, FunctionRuntime, InvocationRecord
from jobgate_cli.local.simulators import start_simulators
from jobgate_cli.local.template_model import LocalTemplate, load_local_template, scaled_time_overrides
from jobgate_cli.local.tenants_seed import TenantSeed
from jobgate_cli.sam_template import LOCAL_REGION, load_template

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
    # 0: a free port, chosen at start.
    dynamodb_port: int = 0
    time_scale: float = 1.0
    tenants: list[TenantSeed] = field(default_factory=list)
    verbose: bool = False
    log: TextIO | None = None
    # A pass over every TTL table reads it whole: once in a while is enough (DynamoDB takes up to 48 h).
    ttl_sweep_seconds: float = 30.0
    # Per function: concurrent execution environments (fewer with ReservedConcurrentExecutions).
    concurrency: int = DEFAULT_CONCURRENCY
    # An environment idle this long is ended, as Lambda reclaims it.
    idle_environment_seconds: float = DEFAULT_IDLE_SECONDS
    # More modules every function process imports before its handler (a test's fakes).
    function_preload: tuple[str, ...] = ()
    # AWS faults injected into the functions' AWS calls (JOBGATE_FAULTS, faults.py); "" for none.
    faults: str = ""
    # Where each injected fault is recorded (a line per fault), if anywhere.
    fault_record: Path | None = None
    # Extra template parameter values (e.g. a shorter JobRetentionMin for tests).
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    # Count every billable unit (LocalStack.meter; docs/local-stack.md), from the end of start().
    meter: bool = False
    # Where the meter's reading is written (JSON) every few seconds and at stop; implies `meter`.
    meter_file: Path | None = None
    # Copy the functions' output to this process's stdout and stderr.
    echo_function_output: bool = True


class LocalStack:
    def __init__(self, config: LocalStackConfig) -> None:
        self.config = config
        self.credentials: list[TenantCredentials] = []
        self.template: LocalTemplate | None = None
        self._moto = MotoEndpoint(config.aws_port, config.host)
        self._dynamodb = DynamoDBLocal(config.host, config.dynamodb_port)
        self._endpoints: LocalEndpoints | None = None
        self._http: LocalHttpApi | None = None
        self._bus: EventBus | None = None
        self.runtime: FunctionRuntime | None = None
        self.meter: StackMeter | None = None
        # What the functions' EMF lines say: GET /_local/metrics (docs/local-stack.md).
        self.metrics = local_metrics.LocalMetrics()
        self._stoppables: list[Callable[[], None]] = []
        self._log_lock = threading.Lock()

    @property
    def api_url(self) -> str:
        assert self._http is not None
        return self._http.url

    @property
    def aws_url(self) -> str:
        """moto: Step Functions, SQS, S3, Lambda, IAM."""
        return self._moto.url

    @property
    def dynamodb_url(self) -> str:
        """DynamoDB Local: DynamoDB and DynamoDB Streams."""
        return self._dynamodb.url

    @property
    def endpoints(self) -> LocalEndpoints:
        assert self._endpoints is not None, "the local stack is not started"
        return self._endpoints

    @property
    def dynamodb_pid(self) -> int | None:
        return self._dynamodb.pid

    def start(self) -> None:
        config = self.config
        metering = config.meter or config.meter_file is not None
        # Powertools reads its log level once, when a handler module is first imported. Metered,
        # the functions log at the template's level, as deployed: CloudWatch bills those bytes.
        if metering:
            os.environ.pop("POWERTOOLS_LOG_LEVEL", None)
        else:
            os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO" if config.verbose else "WARNING"
        raw_template = load_template(config.template_path)
        secret_values = generated_secrets(raw_template)
        simulators = start_simulators(raw_template, secret_values, config.host)
        self._stoppables.extend(simulator.stop for simulator in simulators)
        overrides = scaled_time_overrides(raw_template, config.time_scale)
        overrides.update({simulator.parameter: simulator.url for simulator in simulators})
        if "WebhookAllowedNetworks" in (raw_template.get("Parameters") or {}):
            overrides["WebhookAllowedNetworks"] = LOCAL_WEBHOOK_NETWORKS
        overrides.update(config.parameter_overrides)
        template = self.template = load_local_template(config.template_path, overrides)
        # The JVM takes a few seconds to start: let it while moto starts.
        dynamodb_started = _in_background(self._dynamodb.start)
        self._stoppables.append(self._dynamodb.stop)
        base_environment = {"AWS_REGION": LOCAL_REGION, "AWS_DEFAULT_REGION": LOCAL_REGION}
        meter = self.meter = self._start_meter(template) if metering else None
        runtime = self.runtime = FunctionRuntime(
            template.functions,
            base_environment,
            concurrency=config.concurrency,
            idle_seconds=config.idle_environment_seconds,
            extra_preload=(
                *config.function_preload,
                *((FAULTS_PRELOAD,) if parse_faults(config.faults) else ()),
                *((CAPACITY_PRELOAD,) if meter else ()),
            ),
            zygote_environment={
                FAULTS_VARIABLE: config.faults,
                **({RECORD_VARIABLE: str(config.fault_record)} if config.fault_record else {}),
                **({CAPACITY_RECORD_VARIABLE: str(meter.capacity_record)} if meter else {}),
            },
            echo_output=config.echo_function_output,
            # The functions' metrics lines are summed at /_local/metrics; --verbose shows them too.
            echo_line=None if config.verbose else local_metrics.is_not_emf,
        )
        self._stoppables.append(runtime.stop)
        runtime.add_listener(self._log_invocation)
        runtime.add_line_listener(self.metrics.on_function_line)
        if meter is not None:
            runtime.add_listener(meter.on_invocation)
            runtime.add_output_listener(meter.on_function_output)
            self._moto.on_aws_call(meter.on_aws_call)
            self._moto.on_execution_history(meter.on_execution_history)
        self._moto.start(runtime)
        self._stoppables.append(self._moto.stop)
        dynamodb_started()
        endpoints = self._endpoints = LocalEndpoints(aws=self._moto.url, dynamodb=self._dynamodb.url)
        # Functions reach each service through boto3's own endpoint variables, as on a laptop.
        base_environment.update(endpoints.environment())
        self._moto.set_environment(endpoints.environment())
        aws.reset_clients()  # clients made before AWS_ENDPOINT_URL was set would talk to AWS
        queue_urls = provision(template, endpoints, secret_values)
        self._start_event_bus(template, runtime, queue_urls)
        self._start_event_sources(template, runtime)
        self.credentials = self._seed_tenants(template)
        self._http = LocalHttpApi(
            template.api,
            runtime,
            config.host,
            config.port,
            meter.on_api_request if meter else None,
            local_pages={local_metrics.PATH: self.metrics.snapshot},
        )
        self._http.start()
        self._stoppables.append(self._http.stop)
        # Functions that hand out URLs of the API (vendor callbacks) learn where it listens.
        for function in template.functions.values():
            if API_URL_VARIABLE in function.environment:
                function.environment[API_URL_VARIABLE] = self._http.url
        if meter is not None:
            meter.reset_work()  # what the start itself spent (tables, queues, tenants) is no job's
            if config.meter_file is not None:
                meter_file = MeterFile(meter, config.meter_file)
                meter_file.start()
                self._stoppables.append(meter_file.stop)

    def _start_meter(self, template: LocalTemplate) -> StackMeter:
        descriptor, record = tempfile.mkstemp(prefix="jobgate-meter-capacity-", suffix=".jsonl")
        os.close(descriptor)
        self._stoppables.append(lambda: Path(record).unlink(missing_ok=True))
        return StackMeter(template.functions.values(), template.state_machines, Path(record))

    def stop(self) -> None:
        while self._stoppables:
            self._stoppables.pop()()
        self._endpoints = None

    def _start_event_bus(self, template: LocalTemplate, runtime: FunctionRuntime, queue_urls: dict[str, str]) -> None:
        dead_letter_urls = {
            (q.function_logical_id, q.event_name): queue_urls[q.name] for q in implied_dead_letter_queues(template)
        }
        rules: list[LambdaRule] = []
        for function in template.functions.values():
            retries, function_queue = asynchronous_invocation_settings(
                template.resources[function.logical_id].get("Properties") or {}
            )
            rules += [
                LambdaRule.from_template_event(
                    f"{function.logical_id}.{event_name}",
                    function.function_name,
                    properties,
                    dead_letter_urls.get((function.logical_id, event_name)),
                    self.config.time_scale,
                    function_retries=retries,
                    function_dead_letter_queue=queue_urls[function_queue] if function_queue else None,
                )
                for event_name, properties in function.events_of_type("EventBridgeRule").items()
            ]
        sqs = self.endpoints.client("sqs")

        def send_to_dead_letter_queue(queue_url: str, event: dict[str, Any]) -> None:
            sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))

        bus = self._bus = EventBus(runtime, rules, send_to_dead_letter_queue, self.config.time_scale)

        def publish_status_change(detail: dict[str, Any]) -> None:
            event = step_functions_status_event(detail)
            if event is not None:
                bus.put_event(event)

        self._moto.on_execution_ended(publish_status_change)
        self._stoppables.append(bus.stop)

    def _start_event_sources(self, template: LocalTemplate, runtime: FunctionRuntime) -> None:
        self._stoppables.extend(
            start_event_sources(
                template, runtime, self.endpoints, self.config.ttl_sweep_seconds, self.config.time_scale
            )
        )

    def _seed_tenants(self, template: LocalTemplate) -> list[TenantCredentials]:
        if "TenantsTable" not in template.physical_names:
            return []  # a template without jobgate's tenants (the tests' fixtures)
        store = TenantStore(self.endpoints.client("dynamodb"), template.physical_names["TenantsTable"])
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


def _in_background(start: Callable[[], None]) -> Callable[[], None]:
    """Run `start` on a thread; the returned function waits for it and re-raises its error."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start()
        except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
            errors.append(error)

    thread = threading.Thread(target=run, name="jobgate-start", daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if errors:
            raise errors[0]

    return wait
