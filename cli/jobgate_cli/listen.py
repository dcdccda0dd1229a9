"""`jobgate listen`: receive webhooks on this machine, verify them, print one line each, forward them.

Like `stripe listen`: point a job's callback at http://127.0.0.1:4000/ on the local stack and
watch its events arrive, or let it pass them on to the app being built with --forward-to.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import http.client
import json
import os
import signal
import socket
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from jobgate.timeutil import to_rfc3339, utc_now
from jobgate.webhooks.signing import ID_HEADER, SECRET_PREFIX, SIGNATURE_HEADER, TIMESTAMP_HEADER
from jobgate_cli.errors import CliError
from jobgate_cli.local.serving import serve_in_background
from jobgate_client.webhooks import InvalidWebhook, MemorySeenStore, WebhookVerifier

HOST = "127.0.0.1"
DEFAULT_PORT = 4000
SECRET_VARIABLE = "JOBGATE_WEBHOOK_SECRET"
# What jobgate itself gives a receiver (docs/webhooks.md: 15 s in all).
FORWARD_TIMEOUT_SECONDS = 15.0
FORWARDED_HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER, "content-type")

_print_lock = threading.Lock()


def print_line(line: str) -> None:
    """Whole lines, flushed: requests are handled on several threads and stdout may be a pipe."""
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # jobgate never follows a redirect (docs/webhooks.md), so forwarding shows a 3xx as it is.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxies from the environment: the app we forward to is normally on this machine.
_forwarder = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


class Verdict(Enum):
    """What became of a request, valued as the status it is answered with."""

    ACCEPTED = HTTPStatus.NO_CONTENT
    DUPLICATE = HTTPStatus.OK  # a 2xx, or the sender would retry what we already have
    MALFORMED = HTTPStatus.BAD_REQUEST  # webhook headers missing or malformed
    REJECTED = HTTPStatus.UNAUTHORIZED  # a signature that does not match, a timestamp too far off


class ReceiverServer(ThreadingHTTPServer):
    """A threaded HTTP server that takes a burst of concurrent senders.

    socketserver's listen backlog is 5: with more connections arriving at once than the
    accept loop takes, the kernel drops SYNs and each dropped sender waits a 1 s retransmit.
    """

    request_queue_size = socket.SOMAXCONN
    daemon_threads = True


class WebhookListener(ReceiverServer):
    """An HTTP server on 127.0.0.1 (port 0 picks a free one) that takes webhooks on any path."""

    def __init__(
        self,
        secret: str | Sequence[str],  # during a rotation, both
        *,
        port: int = DEFAULT_PORT,
        forward_to: str | None = None,
        log: Callable[[str], None] = print_line,
    ) -> None:
        self.forward_to = forward_to
        # The client package's verification and de-duplication: what `jobgate listen` accepts
        # is what a receiver built with jobgate_client.webhooks accepts.
        self._verifier = WebhookVerifier(secret)
        self._seen = MemorySeenStore()
        self._log = log
        super().__init__((HOST, port), _WebhookHandler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_port}/"

    def receive(self, body: bytes, headers: Mapping[str, str]) -> Verdict:
        """Verify, de-duplicate and print one request (headers with lower-case names)."""
        msg_id = headers.get(ID_HEADER, "")
        try:
            self._verifier.verify(headers, body)
        except InvalidWebhook as invalid:
            return self._reject(msg_id, invalid)
        if not self._seen.add(msg_id):
            self._log(f"{_now()}  duplicate  {msg_id} was already received: answered 200, not forwarded")
            return Verdict.DUPLICATE
        self._log(describe_event(body))
        return Verdict.ACCEPTED

    def forward(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Send the raw body and the webhook headers on; failures are printed, never raised."""
        if self.forward_to is None:
            return
        msg_id = headers.get(ID_HEADER, "")
        request = urllib.request.Request(
            self.forward_to,
            data=body,
            headers={name: headers[name] for name in FORWARDED_HEADERS if name in headers},
            method="POST",
        )
        try:
            with _forwarder.open(request, timeout=FORWARD_TIMEOUT_SECONDS) as response:
                status = response.status
        except urllib.error.HTTPError as error:  # a non-2xx answer: still an answer
            status = error.code
        except (OSError, http.client.HTTPException) as error:
            self._log(f"{_now()}  forward    {msg_id} to {self.forward_to} failed: {error}")
            return
        self._log(f"{_now()}  forward    {msg_id} to {self.forward_to}: {status}")

    def _reject(self, msg_id: str, invalid: InvalidWebhook) -> Verdict:
        verdict = Verdict(invalid.status)
        self._log(f"{_now()}  rejected   {msg_id or '(no webhook-id)'}: {invalid.reason}; answered {verdict.value}")
        return verdict


class _WebhookHandler(BaseHTTPRequestHandler):
    server: WebhookListener

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            self.send_error(HTTPStatus.BAD_REQUEST, "bad Content-Length")
            return
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        verdict = self.server.receive(body, headers)
        self.send_response(verdict.value)
        self.send_header("Content-Length", "0")
        self.end_headers()
        # After answering: a slow forward target must not make the sender time out.
        if verdict is Verdict.ACCEPTED:
            self.server.forward(body, headers)

    def log_message(self, fmt: str, *args: Any) -> None:
        pass  # the listener prints its own line per request


def describe_event(body: bytes) -> str:
    """Event time, job id, event type, sequence, status and progress of a jobgate event."""
    try:
        event: Any = json.loads(body)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        return f"{_now()}  (not a jobgate event: {body[:80]!r})"
    data = event.get("data")
    job = data.get("job") if isinstance(data, dict) else None
    job = job if isinstance(job, dict) else {}
    progress = job.get("progress")
    percent = progress.get("percent") if isinstance(progress, dict) else None
    return "  ".join(
        [
            str(event.get("timestamp") or _now()),
            str(job.get("id", "?")),
            f"{event.get('type', '?')!s:<15}",
            f"#{event.get('sequence', '?')!s:<3}",
            f"{job.get('status', '?')!s:<10}",
            "?%" if percent is None else f"{percent}%",
        ]
    )


def _now() -> str:
    return to_rfc3339(utc_now())


def add_listen_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listen = commands.add_parser(
        "listen",
        help="Receive webhooks on this machine: verify, print and optionally forward them.",
        description=(
            "Receive jobgate's webhooks while you build against it, like `stripe listen`: an HTTP server "
            f"on {HOST} checks each request's Standard Webhooks signature with your webhook secret, "
            "prints one line per event (time, job, event type, sequence, status, progress), answers "
            "duplicates (same webhook-id) without passing them on, and with --forward-to sends each "
            "verified request, body and webhook headers unchanged, to your app. Use it with the local "
            f'stack: submit jobs with "callback": {{"url": "http://{HOST}:{DEFAULT_PORT}/"}}. '
            "Ctrl-C stops it."
        ),
    )
    listen.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"Port to listen on (default {DEFAULT_PORT}).")
    # Not `default=os.environ[...]`: --help would print the secret.
    listen.add_argument(
        "--secret",
        action="append",
        help=(
            f"The tenant's webhook secret, whsec_... (default: ${SECRET_VARIABLE}, space-separated). "
            "Give it twice during a rotation: either secret then verifies."
        ),
    )
    listen.add_argument("--forward-to", metavar="URL", help="Also POST each verified webhook to this URL.")
    listen.set_defaults(run=run_listen)


def run_listen(args: argparse.Namespace) -> int:
    secrets = args.secret or os.environ.get(SECRET_VARIABLE, "").split()
    if not secrets:
        raise CliError(
            f"give the tenant's webhook secret with --secret or {SECRET_VARIABLE} "
            "(printed by `jobgate tenants create` and `tenants rotate-secret`)"
        )
    if not all(_is_webhook_secret(secret) for secret in secrets):
        raise CliError(f"that is not a webhook secret: expected {SECRET_PREFIX} followed by base64")
    if args.forward_to is not None and not _is_http_url(args.forward_to):
        raise CliError(f"--forward-to needs an http:// or https:// URL, not {args.forward_to!r}")
    try:
        listener = WebhookListener(secrets, port=args.port, forward_to=args.forward_to)
    except OSError as error:
        raise CliError(f"could not listen on {HOST}:{args.port}: {error} (is the port taken? use --port)") from None

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    serve_in_background(listener, "jobgate-listen")
    forwarding = f", forwarding to {args.forward_to}" if args.forward_to else ""
    print_line(f"Listening for webhooks on {listener.url}{forwarding}. Ctrl-C stops.")
    stopping.wait()
    listener.shutdown()
    listener.server_close()
    print_line("Stopped.")
    return 0


def _is_webhook_secret(secret: str) -> bool:
    if not secret.startswith(SECRET_PREFIX):
        return False
    try:
        return bool(base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True))
    except binascii.Error:
        return False


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
