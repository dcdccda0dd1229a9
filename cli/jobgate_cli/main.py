"""`jobgate`: the developer console (jobs, tenants, webhooks, the local stack)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from jobgate.domain.tenants import InvalidTenantName
from jobgate.store.tenants import TenantExists, TenantStore
from jobgate.tenants import RotationContended, TenantNotFound, register_tenant, rotate_secret
from jobgate.timeutil import to_rfc3339
from jobgate_cli.errors import CliError
from jobgate_cli.jobs import add_jobs_command
from jobgate_cli.listen import add_listen_command
from jobgate_cli.local.console import add_local_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobgate", description="jobgate developer console.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tenants = commands.add_parser("tenants", help="Manage tenants and their API keys.")
    tenant_commands = tenants.add_subparsers(dest="tenant_command", required=True, metavar="ACTION")
    create = tenant_commands.add_parser(
        "create",
        help="Create a tenant; prints its API key and webhook signing secret (shown only once).",
        description=(
            "Create a tenant and print its API key and webhook signing secret. jobgate stores only "
            "a hash of the key, so keep the printed key: it cannot be shown again."
        ),
    )
    create.add_argument("name", help="Tenant name: 2-63 lowercase letters, digits and '-'.")
    _add_tenants_table_options(create, json_help="Print the credentials as one JSON object.")
    create.set_defaults(run=_create_tenant)

    rotate = tenant_commands.add_parser(
        "rotate-secret",
        help="Give a tenant a new webhook signing secret; the old one keeps signing for 24 hours.",
        description=(
            "Create a new webhook signing secret for a tenant and print it (shown only once). Webhooks "
            "are signed with the new and the old secret for 24 hours, so receivers can switch over "
            "without rejecting a delivery; after that only the new secret signs."
        ),
    )
    rotate.add_argument("name", help="The tenant's name.")
    _add_tenants_table_options(rotate, json_help="Print the new secret as one JSON object.")
    rotate.set_defaults(run=_rotate_secret)

    add_jobs_command(commands)
    add_listen_command(commands)
    add_local_command(commands)
    return parser


def _add_tenants_table_options(command: argparse.ArgumentParser, *, json_help: str) -> None:
    """Where the tenants table is: the options every `tenants` action shares."""
    where = command.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack-name", help="A deployed jobgate stack (its TenantsTableName output is used).")
    where.add_argument("--table", help="The tenants table name, e.g. of the local stack.")
    command.add_argument("--region", help="AWS region (default: your AWS configuration).")
    command.add_argument(
        "--endpoint-url",
        help=(
            "DynamoDB endpoint, e.g. the local stack's DynamoDB Local (http://127.0.0.1:3002); "
            "AWS_ENDPOINT_URL_DYNAMODB works too."
        ),
    )
    command.add_argument("--json", action="store_true", help=json_help)


def _tenant_store(args: argparse.Namespace) -> TenantStore:
    session = boto3.session.Session(region_name=args.region)
    table = args.table or _stack_output(session, args.stack_name, "TenantsTableName")
    return TenantStore(session.client("dynamodb", endpoint_url=args.endpoint_url), table)


def _create_tenant(args: argparse.Namespace) -> int:
    store = _tenant_store(args)
    try:
        credentials = register_tenant(store, args.name)
    except InvalidTenantName as error:
        raise CliError(str(error)) from None
    except TenantExists:
        raise CliError(f"A tenant named {args.name!r} already exists.") from None
    if args.json:
        print(
            json.dumps(
                {
                    "tenant": credentials.tenant_id,
                    "apiKey": credentials.api_key,
                    "webhookSecret": credentials.webhook_secret,
                }
            )
        )
    else:
        print(f"Tenant:          {credentials.tenant_id}")
        print(f"API key:         {credentials.api_key}")
        print(f"Webhook secret:  {credentials.webhook_secret}")
        print("Store both now: jobgate keeps only a hash of the API key and cannot show it again.")
    return 0


def _rotate_secret(args: argparse.Namespace) -> int:
    try:
        rotated = rotate_secret(_tenant_store(args), args.name)
    except TenantNotFound:
        raise CliError(f"There is no tenant named {args.name!r}.") from None
    except RotationContended:
        raise CliError(f"Tenant {args.name!r} is being changed by someone else right now; try again.") from None
    until = to_rfc3339(rotated.previous_signs_until)
    if args.json:
        print(
            json.dumps(
                {
                    "tenant": rotated.tenant_id,
                    "webhookSecret": rotated.webhook_secret,
                    "previousSecretSignsUntil": until,
                }
            )
        )
    else:
        print(f"Tenant:          {rotated.tenant_id}")
        print(f"Webhook secret:  {rotated.webhook_secret}")
        print(f"Webhooks are also signed with the previous secret until {until}; switch your receivers before then.")
    return 0


def _stack_output(session: boto3.session.Session, stack_name: str, output_key: str) -> str:
    # A deployed stack: CloudFormation is AWS's (--endpoint-url names the DynamoDB endpoint only).
    stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    for output in stacks[0].get("Outputs", []):
        if output["OutputKey"] == output_key:
            return output["OutputValue"]
    raise CliError(f"Stack {stack_name} has no output {output_key}; is it a jobgate stack?")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except CliError as error:
        print(f"jobgate: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"jobgate: AWS call failed: {error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
