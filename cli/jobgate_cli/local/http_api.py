"""The HTTP API on 127.0.0.1:3000: SAM CLI's own local API Gateway, invoking our runtime.

Routes come from template.yaml through SAM CLI (`ApiProvider`); SAM's Flask service builds
the payload 2.0 events and turns responses back into HTTP, as `sam local start-api` does,
but functions run in the local stack's runtime instead of in Docker.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from flask import Request, Response, jsonify, make_response, request
from samcli.lib.providers.provider import Api
from samcli.lib.utils.stream_writer import StreamWriter
from samcli.local.apigw.event_constructor import construct_v2_event_http
from samcli.local.apigw.local_apigw_service import LocalApigwService
from samcli.local.apigw.path_converter import PathConverter
from samcli.local.apigw.route import Route
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from jobgate.domain.problems import PROBLEM_CONTENT_TYPE, problem_document
from jobgate_cli.local.runtime import FunctionError, FunctionRuntime, TooManyRequests
from jobgate_cli.local.serving import serve_in_background

# What API Gateway answers when Lambda throttles the integration (it maps Lambda's 429 to 500).
THROTTLED_BODY = {"message": "Internal Server Error"}
# Told each answered request: (bytes of the request's body, bytes of the response's body).
RequestListener = Callable[[int, int], None]
# The local stack's own pages (GET, JSON), beside the template's routes: path -> what to answer.
LocalPages = Mapping[str, Callable[[], Any]]


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


class ApiGatewayLikeService(LocalApigwService):  # type: ignore[misc]
    """SAM's local API Gateway, closer to API Gateway where our API relies on it."""

    def _get_current_route(self, flask_request: Request) -> Route:
        # Flask routes HEAD to a GET rule; API Gateway sends it to the $default route.
        if flask_request.method == "HEAD":
            return self._dict_of_routes[self._route_key("HEAD", "/<path:any_path>")]
        return super()._get_current_route(flask_request)

    def _generate_lambda_event(
        self, flask_request: Request, route: Route, method: str, endpoint: str
    ) -> dict[str, Any]:
        try:
            return dict(super()._generate_lambda_event(flask_request, route, method, endpoint))
        except UnicodeDecodeError:
            # A body that is not UTF-8 text goes to the function base64-encoded, as API
            # Gateway sends binary bodies; SAM would answer 502 instead.
            path = PathConverter.convert_path_to_api_gateway(endpoint)
            return dict(
                construct_v2_event_http(
                    flask_request=flask_request,
                    port=self.port,
                    binary_types=["*/*"],
                    stage_name=self.api.stage_name,
                    stage_variables=self.api.stage_variables,
                    route_key=self._v2_route_key(method, path, route.is_default_route),
                )
            )


class ProblemRequestHandler(WSGIRequestHandler):
    """Errors the HTTP server answers itself (431 too many headers, 414, a bad request line) as problem+json."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        status = HTTPStatus(code)
        body = json.dumps(
            problem_document(
                code, status.phrase.lower().replace(" ", "-"), status.phrase, message or status.description
            )
        ).encode()
        self.send_response(code, message)
        self.send_header("Content-Type", PROBLEM_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class LocalHttpApi:
    def __init__(
        self,
        api: Api,
        runtime: FunctionRuntime,
        host: str,
        port: int,
        on_request: RequestListener | None = None,
        local_pages: LocalPages | None = None,
    ) -> None:
        """`local_pages`: paths under /_local/ (no route of the template's), answered by the stack itself."""
        self.host = host
        self.port = port
        service = ApiGatewayLikeService(api=api, lambda_runner=InProcessLambdaRunner(runtime), port=port, host=host)
        service.create()
        self._app = service._app
        self._app.register_error_handler(TooManyRequests, answer_throttled)
        for path, page in (local_pages or {}).items():
            self._app.add_url_rule(path, endpoint=path, view_func=_json_page(page), methods=["GET"])
        if on_request is not None:

            def tell(response: Response) -> Response:
                on_request(len(request.get_data()), len(response.get_data()))
                return response

            self._app.after_request(tell)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._server = make_server(
            self.host, self.port, self._app, threaded=True, request_handler=ProblemRequestHandler
        )
        self.port = self._server.server_port  # when started on port 0
        self._thread = serve_in_background(self._server, "jobgate-http-api")

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _json_page(page: Callable[[], Any]) -> Callable[[], Response]:
    def answer() -> Response:
        return make_response(jsonify(page()), 200)

    return answer


def answer_throttled(error: TooManyRequests) -> Response:
    return make_response(jsonify(THROTTLED_BODY), 500)
