"""Receive a jobgate job's webhooks: verified, each once, each job's events in order.

    JOBGATE_WEBHOOK_SECRET=whsec_... python clients/python/examples/receiver.py --port 4000

then submit a job with "callback": {"url": "http://127.0.0.1:4000/"} (the local stack allows
callbacks to 127.0.0.1). During a secret rotation give both secrets, space-separated.
The standard library's WSGI server keeps the example free of frameworks; in Flask it is
`app.wsgi_app = receiver.wsgi_middleware(app.wsgi_app, "/jobgate")`, in FastAPI
`app.mount("/jobgate", receiver.asgi_app)`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from socketserver import ThreadingMixIn
from types import FrameType
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import WSGIApplication

from jobgate_client.webhooks import Handler, WebhookEvent, WebhookReceiver


def print_event(event: WebhookEvent) -> None:
    """Your code goes here: it runs once per event, in sequence order for each job."""
    job = event.job
    print(job["id"], event.sequence, event.type, job["status"], f"{job['progress']['percent']}%", flush=True)


def make_receiver(secrets: Sequence[str], handler: Handler = print_event) -> WebhookReceiver:
    return WebhookReceiver(secrets, handler)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # jobgate sends several jobs' webhooks at once


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - wsgiref's naming
        pass


def serve(app: WSGIApplication, port: int) -> WSGIServer:
    """`app` on 127.0.0.1:`port` (0 picks a free one), answering on threads of its own."""
    server = make_server("127.0.0.1", port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print jobgate webhooks, verified, once each, in order.")
    parser.add_argument("--port", type=int, default=4000)
    args = parser.parse_args(argv)
    secrets = os.environ.get("JOBGATE_WEBHOOK_SECRET", "").split()
    if not secrets:
        sys.exit("set JOBGATE_WEBHOOK_SECRET to your tenant's webhook secret (whsec_...)")
    receiver = make_receiver(secrets)
    server = serve(receiver.wsgi_app, args.port)
    print(f"Receiving webhooks on http://127.0.0.1:{server.server_port}/", flush=True)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    stopping.wait()
    server.shutdown()
    receiver.release()  # whatever still waits for a missing earlier event is handed over now
    receiver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
