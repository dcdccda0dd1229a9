"""Routes of webhook deliveries: every attempt for a job, and sending an event again."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from jobgate import wiring
from jobgate.domain.models import CamelModel
from jobgate.lazy import LazyModel
from jobgate.store.deliveries import DeliveryAttempt
from jobgate.webhooks.signing import webhook_id
from jobgate_api.context import job_service, tenant_id
from jobgate_api.routes.jobs import JobId
from jobgate_api.schemas import ON_A_JOB, WITH_A_BODY, json_response, problem_responses

router = Router()
JSON = "application/json"


class DeliveryList(LazyModel):
    items: list[DeliveryAttempt]


class RedeliveryAccepted(CamelModel):
    job_id: str
    sequence: int
    webhook_id: str


@router.get(
    "/jobs/<id>/deliveries",
    operation_id="listDeliveries",
    summary="Every webhook attempt for the job (event, attempt, time, status, latency, error)",
    responses={
        200: json_response("Attempts in event and attempt order.", DeliveryList),
        **problem_responses(*ON_A_JOB),
    },
)
def list_deliveries(id: JobId) -> Response[str]:  # noqa: A002 - docs/api.md names it {id}
    job_service().get_for_tenant(tenant_id(router), id)
    body = DeliveryList(items=wiring.webhook_service().attempts(id))
    return Response(200, JSON, body.model_dump_json(by_alias=True))


@router.post(
    "/jobs/<id>/deliveries/<sequence>/redeliver",
    operation_id="redeliver",
    summary="Send an event to the callback again, with the same webhook-id",
    responses={
        202: json_response("Queued for delivery.", RedeliveryAccepted),
        **problem_responses(*ON_A_JOB, *WITH_A_BODY, 409),
    },
)
def redeliver(
    id: JobId,  # noqa: A002 - docs/api.md names it {id}
    sequence: Annotated[int, Path(ge=1, description="The event's sequence number.")],
) -> Response[str]:
    job_service().get_for_tenant(tenant_id(router), id)
    wiring.webhook_service().redeliver(id, sequence)
    body = RedeliveryAccepted(job_id=id, sequence=sequence, webhook_id=webhook_id(id, sequence))
    return Response(202, JSON, body.model_dump_json(by_alias=True))
