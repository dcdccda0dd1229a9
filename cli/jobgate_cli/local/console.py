"""`jobgate local`: start the local stack, print how to use it, stop cleanly on Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from jobgate_cli.local.stack import DEFAULT_TEMPLATE, LocalStack, LocalStackConfig
from jobgate_cli.local.tenants_seed import InvalidTenantSeed, parse_tenant_seeds


def add_local_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    local = commands.add_parser(
        "local",
        help="Run the whole system on this machine (what `make run` starts).",
        description=(
            "Start jobgate's local stack: the HTTP API from template.yaml on 127.0.0.1, every function "
            "in this process against moto (an in-memory AWS), state machines that really execute, and an "
            "AWS endpoint for `aws --endpoint-url` or boto3. Ctrl-C stops it."
        ),
        epilog=(
            "environment: JOBGATE_PORT (API port, default 3000), JOBGATE_AWS_PORT (AWS endpoint port, "
            "default 3001), JOBGATE_TIME_SCALE (multiplies retry intervals and other waits, default 1), "
            'JOBGATE_TENANTS="name:apikey:whsec_...,..." (fixed tenants instead of a new "dev" tenant).'
        ),
    )
    local.add_argument("--port", type=int, default=int(os.environ.get("JOBGATE_PORT", "3000")))
    local.add_argument("--aws-port", type=int, default=int(os.environ.get("JOBGATE_AWS_PORT", "3001")))
    local.add_argument(
        "--time-scale",
        type=float,
        default=float(os.environ.get("JOBGATE_TIME_SCALE", "1")),
        help="Multiply the template's time parameters (retry intervals, waits) by this; 0.1 = ten times faster.",
    )
    local.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="The SAM template to run.")
    local.add_argument("--verbose", action="store_true", help="Also print the functions' Powertools JSON logs.")
    local.set_defaults(run=run_local)


def run_local(args: argparse.Namespace) -> int:
    from jobgate_cli.main import CliError

    try:
        tenants = parse_tenant_seeds(os.environ.get("JOBGATE_TENANTS", ""))
    except InvalidTenantSeed as error:
        raise CliError(str(error)) from None
    if args.time_scale <= 0:
        raise CliError("--time-scale must be greater than 0")
    stack = LocalStack(
        LocalStackConfig(
            template_path=args.template.resolve(),
            port=args.port,
            aws_port=args.aws_port,
            time_scale=args.time_scale,
            tenants=tenants,
            verbose=args.verbose,
            log=sys.stdout,
        )
    )
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
    except OSError as error:
        stack.stop()
        raise CliError(
            f"could not start the local stack: {error} (is a port taken? set JOBGATE_PORT or JOBGATE_AWS_PORT)"
        ) from None
    print_banner(stack)
    stopping.wait()
    print("\nStopping the local stack...", flush=True)
    stack.stop()
    return 0


def print_banner(stack: LocalStack) -> None:
    api = stack.api_url
    lines = [
        "",
        "jobgate local stack is running",
        f"  API               {api}   (docs: {api}/docs)",
        f"  AWS endpoint      {stack.aws_url}",
        f"                    (try: aws --endpoint-url {stack.aws_url} dynamodb scan --table-name JobsTable)",
    ]
    for credentials in stack.credentials:
        lines += [
            f"  Tenant            {credentials.tenant_id}",
            f"  API key           {credentials.api_key}",
            f"  Webhook secret    {credentials.webhook_secret}",
        ]
    key = stack.credentials[0].api_key
    lines += [
        "",
        "Submit a job:",
        f"  curl -s -X POST {api}/jobs -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\",
        """       -d '{"type": "demo", "input": {"steps": 5, "stepSeconds": 2}}'""",
        "",
        "Each function invocation is logged below. Ctrl-C stops.",
        "",
    ]
    print("\n".join(lines), flush=True)
