"""POST /vendor-callbacks/{callbackId}: a background-check vendor's signed answer resumes the job.

Vendors hold no tenant API key: this route is public at the gate and authenticates each
request by its X-Vendor-Signature (HMAC-SHA256 with the deployment's vendor secret).
"""

from __future__ import annotations

import base64
import json
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import Field

from jobgate.lazy import LazyModel
from jobgate.observability import logger
from jobgate_api.context import request_header
from jobgate_api.problems import MalformedHeader, problem, validation_failed
from jobgate_api.schemas import (
    WITH_A_BODY,
    RequestHeaders,
    header_parameter,
    json_response,
    problem_responses,
)

router = Router()
JSON = "application/json"


class CallbackAnswer(LazyModel):
    status: str = Field(description="`accepted`, or `duplicate` with a detail.")
    detail: str | None = None


def request_headers() -> RequestHeaders:
    """For the OpenAPI document. A function, so that the API's import imports no module of the
    job type (importing `signing` imports the job type's package, its input models with it)."""
    from jobgate.jobtypes.background_check import signing

    return {
        ("post", "/vendor-callbacks/{callbackId}"): [
            header_parameter(
                signing.SIGNATURE_HEADER,
                "`t=<unix seconds>,v1=<hex HMAC-SHA256>`; missing or not matching: 401.",
                signing.SIGNATURE_PATTERN,
            )
        ]
    }


CallbackId = Annotated[str, Path(min_length=1, max_length=100, description="The id in the vendor's callback URL.")]


@router.post(
    "/vendor-callbacks/<callbackId>",
    operation_id="receiveVendorCallback",
    summary="A vendor's answer to a background check (signed with X-Vendor-Signature; no API key)",
    security=[],
    responses={
        202: json_response("The check resumed with the vendor's finding.", CallbackAnswer),
        200: json_response("A duplicate answer: already received, ignored.", CallbackAnswer),
        # No tenant key, so no 403: a disabled tenant's checks still get their vendors' answers.
        **problem_responses(401, 404, 410, 503, *WITH_A_BODY),
    },
)
def vendor_callback(callbackId: CallbackId) -> Response[str]:  # noqa: N803 - the path names it {callbackId}
    # The job type's code, imported by its one route: no other request of the API needs it.
    from jobgate.jobtypes.background_check import signing, wiring
    from jobgate.jobtypes.background_check.resume import (
        BadSignature,
        CheckNoLongerWaiting,
        InvalidVendorAnswer,
        ResumeOutcome,
        ResumeUnavailable,
    )
    from jobgate.jobtypes.background_check.store import UnknownCallback

    callback_id = callbackId
    event = router.current_event
    raw = event.body or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode()
    try:
        outcome = wiring.callback_resumer().resume(callback_id, body, request_header(router, signing.SIGNATURE_HEADER))
    except signing.MalformedSignature as malformed:
        raise MalformedHeader(signing.SIGNATURE_HEADER, str(malformed)) from None
    except BadSignature:
        logger.warning("vendor callback refused: bad signature", extra={"callback_id": callback_id})
        return problem(401, "bad-signature", "Bad signature", f"The {signing.SIGNATURE_HEADER} header is not valid.")
    except InvalidVendorAnswer as invalid:
        return validation_failed(422, str(invalid), invalid.errors)
    except UnknownCallback:
        return problem(404, "callback-not-found", "Callback not found", f"No vendor callback {callback_id} exists.")
    except CheckNoLongerWaiting:
        return problem(
            410,
            "check-no-longer-waiting",
            "Check no longer waiting",
            "This check timed out or its job was cancelled; the answer was not used.",
        )
    except ResumeUnavailable:
        return problem(
            503,
            "try-again",
            "Try again",
            "The answer could not be passed on now; send it again.",
            headers={"Retry-After": "5"},
        )
    if outcome is ResumeOutcome.DUPLICATE:
        note = {"status": "duplicate", "detail": "This callback was already answered; this answer was ignored."}
        return Response(200, JSON, json.dumps(note))
    return Response(202, JSON, json.dumps({"status": "accepted"}))
