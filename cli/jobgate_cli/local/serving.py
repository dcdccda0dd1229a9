"""Serve the local stack's HTTP servers on background threads, stoppable at once."""

from __future__ import annotations

import threading
from socketserver import BaseServer
from typing import Final

# How often serve_forever looks for shutdown(): socketserver's 0.5 s made each of the stack's
# servers hold a Ctrl-C up for half a second, one after another.
SHUTDOWN_POLL_SECONDS: Final = 0.05


def serve_in_background(server: BaseServer, name: str) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS}, name=name, daemon=True
    )
    thread.start()
    return thread
