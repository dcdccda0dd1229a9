"""Start the third-party simulators template.yaml names, and point its parameters at them.

The template lists them in its Metadata:

    Metadata:
      jobgate:
        Simulators:
          PaymentProviderUrl: jobgate_cli.simulators.payment:create_app

For each entry the local stack imports the factory, serves the WSGI app it returns on
127.0.0.1 (a free port) and sets the parameter to that URL, so the functions reach the
simulator exactly as they would reach the real provider in AWS. A factory that takes a
`secrets` argument gets the stack's secrets (logical id -> value): what an operator hands a
third party, e.g. the vendors' callback secret.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from jobgate_cli.local.serving import serve_in_background

SIMULATORS_METADATA_KEY = "Simulators"
WsgiApp = Callable[..., Any]


@dataclass
class RunningSimulator:
    parameter: str
    url: str
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def declared_simulators(template: Mapping[str, Any]) -> dict[str, str]:
    entries = (template.get("Metadata") or {}).get("jobgate", {}).get(SIMULATORS_METADATA_KEY, {})
    return {str(parameter): str(target) for parameter, target in entries.items()}


def start_simulators(
    template: Mapping[str, Any], secrets: Mapping[str, str], host: str = "127.0.0.1"
) -> list[RunningSimulator]:
    running: list[RunningSimulator] = []
    for parameter, target in declared_simulators(template).items():
        module_name, _, factory_name = target.partition(":")
        factory: Callable[..., WsgiApp] = getattr(importlib.import_module(module_name), factory_name)
        wants_secrets = "secrets" in inspect.signature(factory).parameters
        server = make_server(host, 0, factory(secrets=secrets) if wants_secrets else factory(), threaded=True)
        thread = serve_in_background(server, f"simulator-{parameter}")
        running.append(RunningSimulator(parameter, f"http://{host}:{server.server_port}", server, thread))
    return running
