"""POST /uploads: a presigned URL to PUT a large input, which a job input then references."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from jobgate import wiring
from jobgate_api.context import tenant_id
from jobgate_api.schemas import AUTHENTICATED, WITH_A_BODY, UploadCreated, json_response, problem_responses

router = Router()


@router.post(
    "/uploads",
    operation_id="createUpload",
    summary="Get a URL to upload a large input",
    responses={
        201: json_response(
            'PUT the file to `url` before `expiresAt`; reference it as {"upload": uploadId}.', UploadCreated
        ),
        **problem_responses(*AUTHENTICATED, *WITH_A_BODY),
    },
)
def create_upload() -> Response[str]:
    upload = wiring.upload_store().create(tenant_id(router))
    body = UploadCreated(upload_id=upload.upload_id, url=upload.url, expires_at=upload.expires_at)
    return Response(201, "application/json", body.model_dump_json(by_alias=True))
