"""The HTTP API on 127.0.0.1:3000: SAM CLI's own local API Gateway, invoking our runtime.

Routes come from template.yaml through SAM CLI (`ApiProvider`); SAM's Flask service builds
the payload 2.0 events and turns responses back into HTTP, as `sam local start-api` does,
but functions run in the local stack's runtime instead of in Docker.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from flask import Response, jsonify, make_response
from samcli.lib.providers.provider import Api
from samcli.lib.utils.stream_writer import StreamWriter
from samcli.local.apigw.local_apigw_service import LocalApigwService
from werkzeug.serving import BaseWSGIServer, make_server

from jobgate_cli.local.runtime import FunctionError, FunctionRuntime, TooManyRequests

# What API Gateway answers when Lambda throttles the integration (it maps Lambda's 429 to 500).
THROTTLED_BODY = {"message": "Internal Server Error"}


class InProcessLambdaRunner:
    """The slice of SAM CLI's LocalLambdaRunner that LocalApigwService uses."""

    def __init__(self, runtime: FunctionRuntime) -> None:
        self._runtime = runtime

    def is_debugging(self) -> bool:
        return False

    def invoke(
        self,
        function_identifier: str,
        event: str,
        stdout: StreamWriter | None = None,
        stderr: StreamWriter | None = None,
        **_: Any,
    ) -> None:
        try:
            output: Any = self._runtime.invoke(function_identifier, json.loads(event))
        except FunctionError as error:
            output = error.payload()  # SAM answers a function error with 502, like API Gateway
        # TooManyRequests goes up to Flask, which answers it with `answer_throttled`.
        if stdout is not None:
            stdout.write_str(json.dumps(output))


class LocalHttpApi:
    def __init__(self, api: Api, runtime: FunctionRuntime, host: str, port: int) -> None:
        self.host = host
        self.port = port
        service = LocalApigwService(api=api, lambda_runner=InProcessLambdaRunner(runtime), port=port, host=host)
        service.create()
        self._app = service._app
        self._app.register_error_handler(TooManyRequests, answer_throttled)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._server = make_server(self.host, self.port, self._app, threaded=True)
        self.port = self._server.server_port  # when started on port 0
        self._thread = threading.Thread(target=self._server.serve_forever, name="jobgate-http-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def answer_throttled(error: TooManyRequests) -> Response:
    return make_response(jsonify(THROTTLED_BODY), 500)
