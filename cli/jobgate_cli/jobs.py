"""`jobgate jobs`: submit, follow and read jobs through the Python client (jobgate_client)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from jobgate_cli.api_settings import KEY_VARIABLE, URL_VARIABLE, resolve_api_settings
from jobgate_cli.errors import CliError
from jobgate_cli.progress import job_display
from jobgate_client import (
    ApiError,
    Client,
    ConnectionFailed,
    Job,
    JobCancelled,
    JobFailed,
    JobTimedOut,
    JobUnsuccessful,
    WaitTimeout,
)

# Exit codes of `submit --wait` and `watch` (2 is a usage or setup error, as for every command).
EXIT_SUCCEEDED = 0
EXIT_API_ERROR = 1
EXIT_FAILED = 3
EXIT_CANCELLED = 4
EXIT_TIMED_OUT = 5
EXIT_STILL_RUNNING = 6
EXIT_CODES_HELP = (
    f"exit codes: {EXIT_SUCCEEDED} the job succeeded (or the command did its part); "
    f"{EXIT_API_ERROR} the API refused the request or could not be reached; 2 a usage or setup error; "
    f"{EXIT_FAILED} the job failed; {EXIT_CANCELLED} the job was cancelled; "
    f"{EXIT_TIMED_OUT} the job timed out (it failed for running past a time limit); "
    f"{EXIT_STILL_RUNNING} --timeout passed while the job was still unfinished (it runs on)."
)
_OUTCOME_CODES: list[tuple[type[JobUnsuccessful], int]] = [
    (JobTimedOut, EXIT_TIMED_OUT),  # before JobFailed, its base class
    (JobFailed, EXIT_FAILED),
    (JobCancelled, EXIT_CANCELLED),
]


def add_jobs_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument("--api-url", help=f"The API, e.g. http://127.0.0.1:3000 (else ${URL_VARIABLE}).")
    connection.add_argument("--api-key", help=f"Your API key (else ${KEY_VARIABLE}).")
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="Stop waiting after this long (exit 6); default: no limit."
    )
    jobs = commands.add_parser(
        "jobs",
        help="Submit, follow and read jobs of a jobgate API.",
        description=(
            "Submit, follow and read jobs. The API URL and key come from --api-url/--api-key, else "
            f"${URL_VARIABLE}/${KEY_VARIABLE}, else the profile file, a TOML file with api_url and api_key "
            "($JOBGATE_PROFILE, else $XDG_CONFIG_HOME/jobgate/profile.toml: ~/.config/jobgate/profile.toml)."
        ),
        epilog=EXIT_CODES_HELP,
    )
    actions = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")

    def action(
        name: str,
        help_text: str,
        run: Callable[[Client, argparse.Namespace], int],
        *parents: argparse.ArgumentParser,
    ) -> argparse.ArgumentParser:
        parser = actions.add_parser(
            name, help=help_text, description=help_text, epilog=EXIT_CODES_HELP, parents=[connection, *parents]
        )
        parser.set_defaults(run=lambda args: _with_client(args, run))
        return parser

    submit = action("submit", "Submit a job; prints its id (--wait: follows it to its end).", _submit, waiting)
    submit.add_argument("type", metavar="TYPE", help="The job type, e.g. demo.")
    submit.add_argument(
        "--input", default="{}", metavar="JSON|@FILE", help="The input: JSON, or @file.json (@- reads stdin)."
    )
    submit.add_argument("--callback", metavar="URL", help="Send the job's webhooks to this URL.")
    submit.add_argument("--idempotency-key", metavar="KEY", help="Default: a new key for this submit.")
    submit.add_argument("--wait", action="store_true", help="Show the job's progress until it ends.")
    submit.add_argument("--json", action="store_true", help="Print the submitted job as JSON instead of its id.")

    action("get", "Print the job as JSON.", _get).add_argument("id", metavar="ID")
    listing = action("list", "List your jobs, newest first.", _list)
    listing.add_argument("--status", help="Only jobs in this status.")
    listing.add_argument("--type", help="Only jobs of this type.")
    listing.add_argument("--limit", type=int, default=20, help="At most this many (default 20; 0: all).")
    listing.add_argument("--json", action="store_true", help="One JSON job per line.")
    events = action("events", "Print the job's timeline.", _events)
    events.add_argument("id", metavar="ID")
    events.add_argument("--after", type=int, default=0, help="Only events after this sequence.")
    events.add_argument("--json", action="store_true", help="One JSON event per line.")
    result = action("result", "Print the result of a succeeded job (or write it to a file).", _result)
    result.add_argument("id", metavar="ID")
    result.add_argument("--output", "-o", metavar="FILE", help="Write the result to FILE, streamed.")
    action("cancel", "Cancel a queued or running job (a finished one is purged).", _cancel).add_argument(
        "id", metavar="ID"
    )
    action("watch", "Show the job's progress until it ends.", _watch, waiting).add_argument("id", metavar="ID")


def _with_client(args: argparse.Namespace, run: Callable[[Client, argparse.Namespace], int]) -> int:
    settings = resolve_api_settings(args.api_url, args.api_key)
    with Client(settings.api_url, settings.api_key) as client:
        try:
            return run(client, args)
        except (ApiError, ConnectionFailed) as error:
            print(f"jobgate: {error}", file=sys.stderr)
            return EXIT_API_ERROR


def _submit(client: Client, args: argparse.Namespace) -> int:
    job = client.submit(args.type, _read_input(args.input), args.callback, args.idempotency_key)
    if args.wait:
        return _follow(client, job.id, args.timeout)
    print(json.dumps(job.raw, indent=2) if args.json else job.id)
    return EXIT_SUCCEEDED


def _read_input(value: str) -> dict[str, Any]:
    if value.startswith("@"):
        name = value[1:]
        try:
            text = sys.stdin.read() if name == "-" else open(name, encoding="utf-8").read()  # noqa: SIM115
        except OSError as error:
            raise CliError(f"--input: cannot read {name}: {error.strerror}") from None
    else:
        text = value
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise CliError(f"--input is not JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise CliError("--input must be a JSON object")
    return parsed


def _watch(client: Client, args: argparse.Namespace) -> int:
    return _follow(client, args.id, args.timeout)


def _follow(client: Client, job_id: str, timeout: float | None) -> int:
    """Show the job until it ends; the exit code says how it ended."""
    display = job_display()
    try:
        try:
            job = client.wait(job_id, timeout=timeout, on_progress=display.show)
        finally:
            display.close()  # the bar's last state stays on the screen, the lines below follow it
    except JobUnsuccessful as outcome:
        print(f"{job_id} {outcome.job.status}: {_error_text(outcome.job)}")
        return next(code for kind, code in _OUTCOME_CODES if isinstance(outcome, kind))
    except WaitTimeout as gave_up:
        print(f"{job_id} still {gave_up.job.status} after {gave_up.timeout:g} s; it runs on")
        return EXIT_STILL_RUNNING
    print(f"{job.id} succeeded; `jobgate jobs result {job.id}` prints its result")
    return EXIT_SUCCEEDED


def _error_text(job: Job) -> str:
    if job.error is None:
        return "no error recorded"
    where = f" (step {job.error.step})" if job.error.step else ""
    return f"{job.error.type}{where}: {job.error.title} {job.error.detail}"


def _get(client: Client, args: argparse.Namespace) -> int:
    print(json.dumps(client.get(args.id).raw, indent=2))
    return EXIT_SUCCEEDED


def _list(client: Client, args: argparse.Namespace) -> int:
    for count, job in enumerate(client.list(status=args.status, type=args.type), start=1):
        if args.json:
            print(json.dumps(job.raw))
        else:
            created = job.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            print(f"{job.id}  {job.type:<18} {job.status:<10} {job.progress.percent:3d}%  {created}")
        if count == args.limit:
            break
    return EXIT_SUCCEEDED


def _events(client: Client, args: argparse.Namespace) -> int:
    for event in client.events(args.id, after=args.after):
        if args.json:
            print(json.dumps(event.raw))
        else:
            stamp = event.timestamp.strftime("%H:%M:%S.%f")[:-3]
            job = event.job
            print(f"{event.sequence:4d}  {stamp}  {event.type:<15} {job.status:<10} {job.progress.percent:3d}%")
    return EXIT_SUCCEEDED


def _result(client: Client, args: argparse.Namespace) -> int:
    if args.output:
        written = client.save_result(args.id, args.output)
        print(f"wrote {written} bytes to {args.output}")
    else:
        print(json.dumps(client.result(args.id), indent=2))
    return EXIT_SUCCEEDED


def _cancel(client: Client, args: argparse.Namespace) -> int:
    job = client.cancel(args.id)
    print(f"{args.id} {job.status}" if job else f"{args.id} had ended: purged, with its events and result")
    return EXIT_SUCCEEDED
