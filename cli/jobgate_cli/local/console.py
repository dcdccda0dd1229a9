"""`jobgate local`: start the local stack, print how to use it, stop cleanly on Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import NoReturn

from jobgate_cli.errors import CliError
from jobgate_cli.local.dynamodb_local import DynamoDBLocalUnavailable
from jobgate_cli.local.faults import FAULTS_VARIABLE, InvalidFaults, parse_faults
from jobgate_cli.local.metrics import PATH as LOCAL_METRICS_PATH
from jobgate_cli.local.runtime import DEFAULT_CONCURRENCY
from jobgate_cli.local.stack import DEFAULT_TEMPLATE, LocalStack, LocalStackConfig
from jobgate_cli.local.tenants_seed import InvalidTenantSeed, parse_tenant_seeds

# How often `jobgate local` prints the metrics' summary line (only when it changed).
METRICS_SUMMARY_SECONDS = 60.0


def add_local_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    local = commands.add_parser(
        "local",
        help="Run the whole system on this machine (what `make run` starts).",
        description=(
            "Start jobgate's local stack: the HTTP API from template.yaml on 127.0.0.1, the template's "
            "functions, DynamoDB Local (AWS's own DynamoDB engine, on Java) for DynamoDB and its streams, "
            "moto for Step Functions (state machines really execute), SQS and S3, and both endpoints for "
            "`aws --endpoint-url` or boto3. Every start is a fresh, empty account. Ctrl-C stops it."
        ),
        epilog=(
            "environment: JOBGATE_PORT (API port, default 3000), JOBGATE_AWS_PORT (moto's port, "
            "default 3001), JOBGATE_DYNAMODB_PORT (DynamoDB Local's port, default 3002), "
            "JOBGATE_TIME_SCALE (multiplies retry intervals and other waits, default 1), "
            f"JOBGATE_CONCURRENCY (concurrent executions per function, default {DEFAULT_CONCURRENCY}), "
            'JOBGATE_TENANTS="name:apikey:whsec_...,..." (fixed tenants instead of a new "dev" tenant), '
            'JOBGATE_FAULTS="dynamodb:throttle=0.05,..." (AWS faults in the functions, docs/local-stack.md).'
        ),
    )
    local.add_argument("--port", type=int, default=int(os.environ.get("JOBGATE_PORT", "3000")))
    local.add_argument(
        "--aws-port",
        type=int,
        default=int(os.environ.get("JOBGATE_AWS_PORT", "3001")),
        help="Port of the AWS endpoint for Step Functions, SQS, S3 and Lambda (moto).",
    )
    local.add_argument(
        "--dynamodb-port",
        type=int,
        default=int(os.environ.get("JOBGATE_DYNAMODB_PORT", "3002")),
        help="Port of DynamoDB Local (DynamoDB and DynamoDB Streams).",
    )
    local.add_argument(
        "--time-scale",
        type=float,
        default=float(os.environ.get("JOBGATE_TIME_SCALE", "1")),
        help="Multiply the template's time parameters (retry intervals, waits) by this; 0.1 = ten times faster.",
    )
    local.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get("JOBGATE_CONCURRENCY", str(DEFAULT_CONCURRENCY))),
        help="Concurrent executions per function (ReservedConcurrentExecutions lowers it); past it, "
        "invocations are throttled as Lambda throttles them.",
    )
    local.add_argument(
        "--faults",
        default=os.environ.get(FAULTS_VARIABLE, ""),
        help='AWS faults injected into the functions\' calls, e.g. "dynamodb:throttle=0.05,sfn:timeout=0.02".',
    )
    local.add_argument(
        "--meter",
        type=Path,
        metavar="FILE",
        help="Count every billable unit as AWS bills it and write the bill (JSON) to FILE every 5 s and at "
        "Ctrl-C; the functions then log at the template's LogLevel, as deployed (docs/local-stack.md).",
    )
    local.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="The SAM template to run.")
    local.add_argument(
        "--verbose", action="store_true", help="Also print the functions' Powertools JSON logs and EMF metrics lines."
    )
    local.set_defaults(run=run_local)


def run_local(args: argparse.Namespace) -> int:
    try:
        tenants = parse_tenant_seeds(os.environ.get("JOBGATE_TENANTS", ""))
    except InvalidTenantSeed as error:
        raise CliError(str(error)) from None
    if args.time_scale <= 0:
        raise CliError("--time-scale must be greater than 0")
    if args.concurrency < 1:
        raise CliError("--concurrency must be at least 1")
    try:
        parse_faults(args.faults)
    except InvalidFaults as error:
        raise CliError(f"--faults: {error}") from None
    stack = LocalStack(
        LocalStackConfig(
            template_path=args.template.resolve(),
            port=args.port,
            aws_port=args.aws_port,
            dynamodb_port=args.dynamodb_port,
            time_scale=args.time_scale,
            concurrency=args.concurrency,
            faults=args.faults,
            meter_file=args.meter.resolve() if args.meter else None,
            tenants=tenants,
            verbose=args.verbose,
            log=sys.stdout,
        )
    )
    stopping = threading.Event()
    starting = True

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        if starting:  # a start takes seconds (the JVM): give it up rather than finish it first
            raise StartInterrupted

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        starting = False
    except StartInterrupted:
        starting = False
        print("\nStopping the local stack...", flush=True)
        _stop(stack)
        _exit_without_teardown()
    except DynamoDBLocalUnavailable as error:
        stack.stop()
        raise CliError(str(error)) from None
    except OSError as error:
        stack.stop()
        raise CliError(
            f"could not start the local stack: {error} "
            "(is a port taken? set JOBGATE_PORT, JOBGATE_AWS_PORT or JOBGATE_DYNAMODB_PORT)"
        ) from None
    print_banner(stack)
    _print_metrics_until(stopping, stack)
    print("\nStopping the local stack...", flush=True)
    _stop(stack)
    print(stack.metrics.summary_line(), flush=True)
    if args.meter:
        print(f"The meter's bill is in {args.meter}.", flush=True)
    _exit_without_teardown()


def _print_metrics_until(stopping: threading.Event, stack: LocalStack) -> None:
    """Every METRICS_SUMMARY_SECONDS, the metrics' summary line, when it changed."""
    shown = stack.metrics.summary_line()
    while not stopping.wait(METRICS_SUMMARY_SECONDS):
        summary = stack.metrics.summary_line()
        if summary != shown:
            print(f"{datetime.now():%H:%M:%S} {summary}", flush=True)
            shown = summary


class StartInterrupted(Exception):
    """Ctrl-C or SIGTERM while the stack was starting."""


def _stop(stack: LocalStack) -> None:
    if stack.runtime is not None:
        # Invocations in flight first: the pollers and the event bus wait for the one in progress.
        stack.runtime.stop()
    stack.stop()


def _exit_without_teardown() -> NoReturn:
    """Exit 0 now that everything is stopped: the interpreter's teardown would free the whole local
    account (moto's backends, the template, the runtime) object by object, which took 2-4 s of a
    SIGTERM's stop on a busy machine; nothing but the log is left to flush."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def print_banner(stack: LocalStack) -> None:
    api = stack.api_url
    jobs_table = stack.template.physical_names.get("JobsTable", "JobsTable") if stack.template else "JobsTable"
    lines = [
        "",
        "jobgate local stack is running (a fresh, empty account: nothing is kept after Ctrl-C)",
        f"  API               {api}   (docs: {api}/docs)",
        f"  DynamoDB          {stack.dynamodb_url}   (DynamoDB Local: tables and streams)",
        f"  Other AWS         {stack.aws_url}   (moto: Step Functions, SQS, S3, Lambda)",
        f"                    try: aws --endpoint-url {stack.dynamodb_url} dynamodb scan --table-name {jobs_table}",
        f"                    or:  export AWS_ENDPOINT_URL={stack.aws_url} "
        f"AWS_ENDPOINT_URL_DYNAMODB={stack.dynamodb_url}",
    ]
    for credentials in stack.credentials:
        lines += [
            f"  Tenant            {credentials.tenant_id}",
            f"  API key           {credentials.api_key}",
            f"  Webhook secret    {credentials.webhook_secret}",
        ]
    lines.append(f"  Metrics           {api}{LOCAL_METRICS_PATH}   (the functions' EMF metrics, summed)")
    if stack.config.meter_file is not None:
        lines.append(f"  Meter             {stack.config.meter_file}   (the bill so far, every 5 s)")
        if stack.config.time_scale != 1:
            lines.append("                    the time scale is not 1: durations are not those of AWS")
    key = stack.credentials[0].api_key
    lines += [
        "",
        "Use it from another shell (jobgate jobs reads these two):",
        f"  export JOBGATE_API_URL={api} JOBGATE_API_KEY={key}",
        """  jobgate jobs submit demo --input '{"steps": 5, "stepSeconds": 2}' --wait""",
        "or with curl:",
        f"  curl -s -X POST {api}/jobs -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\",
        """       -d '{"type": "demo", "input": {"steps": 5, "stepSeconds": 2}}'""",
        "",
        "Each function invocation is logged below. Ctrl-C stops.",
        "",
    ]
    print("\n".join(lines), flush=True)
