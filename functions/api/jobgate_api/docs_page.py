"""GET /docs: Powertools' Swagger UI page, as `enable_swagger` serves it, built when asked for.

`APIGatewayHttpResolver.enable_swagger` imports Powertools' OpenAPI models when it is
called, so calling it at import time put ~150 ms into every cold start of the API, for a
page few requests ask for. Only the /docs route imports this module. It does what
`enable_swagger`'s route does with the options the API uses (the page and its assets inline,
no OAuth2 configuration, no merged schema); tests/integration/test_openapi_document.py
checks that the page is the one `enable_swagger` serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi import swagger_ui
from aws_lambda_powertools.event_handler.openapi.compat import model_json
from aws_lambda_powertools.event_handler.openapi.models import Server

_ASSETS = Path(swagger_ui.__file__).parent


def swagger_page(
    app: APIGatewayHttpResolver, query: Mapping[str, str], schema_arguments: Mapping[str, Any]
) -> Response[str]:
    """The page (or, with ?format=json, the spec it shows; ?format=oauth2-redirect, that stanza)."""
    if query.get("format") == "oauth2-redirect":
        return Response(200, "text/html", swagger_ui.generate_oauth2_redirect_html())
    base_path = app._get_base_path()  # the stage prefix, as enable_swagger finds it
    spec = app.get_openapi_schema(servers=[Server(url=base_path or "/")], **schema_arguments)
    # "</" escaped, so no string of the spec can close the page's <script>.
    escaped_spec = model_json(spec, by_alias=True, exclude_none=True, indent=2).replace("</", "<\\/")
    if query.get("format") == "json":
        return Response(200, "application/json", escaped_spec)
    swagger_js = (_ASSETS / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    swagger_css = (_ASSETS / "swagger-ui.min.css").read_text(encoding="utf-8")
    body = swagger_ui.generate_swagger_html(escaped_spec, swagger_js, swagger_css, "", None, False)
    return Response(200, "text/html", body)
