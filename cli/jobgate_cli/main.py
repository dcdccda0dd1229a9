"""`jobgate`: the developer console (jobs, tenants, webhooks, the local stack)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from jobgate_cli.errors import CliError
from jobgate_cli.jobs import add_jobs_command
from jobgate_cli.listen import add_listen_command
from jobgate_cli.local.console import add_local_command
from jobgate_cli.tenants import add_tenants_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobgate", description="jobgate developer console.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_tenants_command(commands)
    add_jobs_command(commands)
    add_listen_command(commands)
    add_local_command(commands)
    return parser


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
