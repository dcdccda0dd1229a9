"""What a route needs about the current request: the caller's tenant and the services."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from jobgate import wiring
from jobgate.service import JobService
from jobgate_api.gate import header


def tenant_id(router: Router) -> str:
    tenant: str = router.context["tenant_id"]
    return tenant


def job_service() -> JobService:
    return wiring.job_service()


def request_header(router: Router, name: str) -> str | None:
    return header(router.current_event.headers, name)
