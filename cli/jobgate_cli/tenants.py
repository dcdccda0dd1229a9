"""`jobgate tenants`: create tenants, rotate their webhook secrets and API keys, revoke keys,
list, disable and enable tenants. Each action calls `jobgate.tenants` against the tenants table."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import boto3

from jobgate.domain.retention import InvalidDuration, parse_iso_duration
from jobgate.domain.tenants import API_KEY_GRACE, ApiKey, InvalidTenantName, KeyLifecycleError, Tenant
from jobgate.store.tenants import TenantExists, TenantStore
from jobgate.tenants import (
    RotationContended,
    TenantNotFound,
    list_tenants,
    register_tenant,
    revoke_keys,
    rotate_key,
    rotate_secret,
    set_tenant_disabled,
)
from jobgate.timeutil import to_rfc3339, utc_now
from jobgate_cli.errors import CliError

GRACE_HOURS = int(API_KEY_GRACE.total_seconds() // 3600)


def add_tenants_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenants = commands.add_parser("tenants", help="Manage tenants and their API keys.")
    actions = tenants.add_subparsers(dest="tenant_command", required=True, metavar="ACTION")

    def action(name: str, summary: str, description: str, json_help: str) -> argparse.ArgumentParser:
        """An action on one tenant: its NAME and the table options."""
        command = actions.add_parser(name, help=summary, description=description)
        command.add_argument("name", help="The tenant's name.")
        _add_tenants_table_options(command, json_help=json_help)
        return command

    action(
        "create",
        "Create a tenant; prints its API key and webhook signing secret (shown only once).",
        "Create a tenant and print its API key and webhook signing secret. jobgate stores only "
        "a hash of the key, so keep the printed key: it cannot be shown again. The name: 2-63 "
        "lowercase letters, digits and '-'.",
        "Print the credentials as one JSON object.",
    ).set_defaults(run=_create_tenant)

    action(
        "rotate-secret",
        "Give a tenant a new webhook signing secret; the old one keeps signing for 24 hours.",
        "Create a new webhook signing secret for a tenant and print it (shown only once). Webhooks "
        "are signed with the new and the old secret for 24 hours, so receivers can switch over "
        "without rejecting a delivery; after that only the new secret signs.",
        "Print the new secret as one JSON object.",
    ).set_defaults(run=_rotate_secret)

    rotate_key_action = action(
        "rotate-key",
        f"Give a tenant a new API key; the old one keeps working for a grace period ({GRACE_HOURS} h).",
        "Create a new API key for a tenant and print it (shown only once). The keys it replaces "
        f"keep working for the grace period ({GRACE_HOURS} hours unless --grace says otherwise), so "
        "clients can switch over without an outage; after it they are refused with 401.",
        "Print the new key as one JSON object.",
    )
    rotate_key_action.add_argument(
        "--grace",
        default=f"PT{GRACE_HOURS}H",
        metavar="DURATION",
        help=(
            f"How long the replaced keys keep working, as an ISO 8601 duration (default PT{GRACE_HOURS}H; "
            "PT0S: not at all, e.g. after a leak)."
        ),
    )
    rotate_key_action.set_defaults(run=_rotate_key)

    revoke = action(
        "revoke-key",
        "Revoke a tenant's API key at once (by its id, from `list`), or all but the newest.",
        "Revoke API keys at once: the key with --key-id (its public id, shown by `jobgate tenants "
        "list` and `rotate-key`), or with --all-but-newest every key but the newest, e.g. the "
        "replaced key before its grace period ends. The tenant's last working key cannot be revoked: "
        "rotate first, or disable the tenant. A warm API function may accept a revoked key for up to 60 s.",
        "Print the revoked keys as one JSON object.",
    )
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--key-id", help="The key's id, e.g. key_3f2a9c01b7de (never the key itself).")
    which.add_argument("--all-but-newest", action="store_true", help="Revoke every working key except the newest.")
    revoke.set_defaults(run=_revoke_key)

    for name, disabled, summary in (
        ("disable", True, "Disable a tenant: its requests get 403; its running jobs finish and their webhooks go out."),
        ("enable", False, "Enable a disabled tenant again: its keys work as before."),
    ):
        action(
            name,
            summary,
            summary + " A warm API function may take up to 60 s to notice.",
            "Print the tenant's status as one JSON object.",
        ).set_defaults(run=_set_disabled, disabled=disabled)

    listing = actions.add_parser(
        "list",
        help="List tenants: status and each key's id, creation and expiry (never a key or secret).",
        description=(
            "List every tenant with its status (enabled or disabled) and its API keys: each key's "
            "public id, when it was created and, for a replaced key, when it stops working. Keys and "
            "webhook secrets are never shown."
        ),
    )
    _add_tenants_table_options(listing, json_help="Print the tenants as one JSON object.")
    listing.set_defaults(run=_list_tenants)


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


@contextmanager
def _refusals(name: str) -> Iterator[None]:
    """The tenant errors every action may meet, as messages for the user (exit code 2)."""
    try:
        yield
    except TenantNotFound:
        raise CliError(f"There is no tenant named {name!r}.") from None
    except RotationContended:
        raise CliError(f"Tenant {name!r} is being changed by someone else right now; try again.") from None
    except KeyLifecycleError as error:
        raise CliError(str(error)) from None


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
    with _refusals(args.name):
        rotated = rotate_secret(_tenant_store(args), args.name)
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


def _rotate_key(args: argparse.Namespace) -> int:
    try:
        grace = parse_iso_duration(args.grace)
    except InvalidDuration as error:
        raise CliError(f"--grace: {error}") from None
    with _refusals(args.name):
        rotated = rotate_key(_tenant_store(args), args.name, grace=grace)
    if args.json:
        print(
            json.dumps(
                {
                    "tenant": rotated.tenant_id,
                    "apiKey": rotated.api_key,
                    "keyId": rotated.key_id,
                    "previousKeys": [_key_json(k) for k in rotated.previous_keys],
                }
            )
        )
        return 0
    print(f"Tenant:          {rotated.tenant_id}")
    print(f"API key:         {rotated.api_key}")
    print(f"Key id:          {rotated.key_id}")
    for key in rotated.previous_keys:
        until = to_rfc3339(key.expires_at) if key.expires_at else "-"
        print(f"The previous key {key.id} keeps working until {until}; switch your clients before then.")
    if not rotated.previous_keys:
        print("No previous key works any more.")
    print("Store the key now: jobgate keeps only a hash of it and cannot show it again.")
    return 0


def _revoke_key(args: argparse.Namespace) -> int:
    with _refusals(args.name):
        revoked = revoke_keys(_tenant_store(args), args.name, key_id=None if args.all_but_newest else args.key_id)
    if args.json:
        print(json.dumps({"tenant": args.name, "revoked": [k.id for k in revoked]}))
    elif revoked:
        print(f"Revoked {', '.join(k.id for k in revoked)} of tenant {args.name}: refused from now on.")
    else:
        print(f"Tenant {args.name} has no key but its newest: nothing to revoke.")
    return 0


def _list_tenants(args: argparse.Namespace) -> int:
    tenants = list_tenants(_tenant_store(args))
    now = utc_now()
    if args.json:
        print(json.dumps({"tenants": [_tenant_json(t, now) for t in tenants]}))
        return 0
    rows = [("TENANT", "STATUS", "KEY ID", "KEY STATE", "CREATED", "EXPIRES")]
    for tenant in tenants:
        status = _status(tenant)
        for index, key in enumerate(tenant.keys or [None]):
            first = index == 0
            key_columns = (
                ("-", "-", "-", "-")
                if key is None
                else (
                    key.id,
                    _key_state(key, now),
                    to_rfc3339(key.created_at),
                    to_rfc3339(key.expires_at) if key.expires_at else "-",
                )
            )
            rows.append((tenant.id if first else "", status if first else "", *key_columns))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _set_disabled(args: argparse.Namespace) -> int:
    with _refusals(args.name):
        tenant = set_tenant_disabled(_tenant_store(args), args.name, disabled=args.disabled)
    if args.json:
        print(json.dumps({"tenant": tenant.id, "status": _status(tenant)}))
    elif args.disabled:
        print(f"Tenant {tenant.id} is disabled: its requests get 403; its running jobs finish.")
    else:
        print(f"Tenant {tenant.id} is enabled.")
    return 0


def _status(tenant: Tenant) -> str:
    return "disabled" if tenant.disabled_at else "enabled"


def _key_state(key: ApiKey, now: datetime) -> str:
    """active (no end), expiring (replaced, in its grace period) or expired."""
    if key.expires_at is None:
        return "active"
    return "expiring" if key.works_at(now) else "expired"


def _key_json(key: ApiKey, now: datetime | None = None) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": key.id,
        "createdAt": to_rfc3339(key.created_at),
        "expiresAt": to_rfc3339(key.expires_at) if key.expires_at else None,
    }
    if now is not None:
        shown["state"] = _key_state(key, now)
    return shown


def _tenant_json(tenant: Tenant, now: datetime) -> dict[str, Any]:
    return {
        "name": tenant.id,
        "status": _status(tenant),
        "disabledAt": to_rfc3339(tenant.disabled_at) if tenant.disabled_at else None,
        "createdAt": to_rfc3339(tenant.created_at),
        "keys": [_key_json(k, now) for k in tenant.keys],
    }


def _stack_output(session: boto3.session.Session, stack_name: str, output_key: str) -> str:
    # A deployed stack: CloudFormation is AWS's (--endpoint-url names the DynamoDB endpoint only).
    stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    for output in stacks[0].get("Outputs", []):
        if output["OutputKey"] == output_key:
            return output["OutputValue"]
    raise CliError(f"Stack {stack_name} has no output {output_key}; is it a jobgate stack?")
