"""Builds the services a function needs from its settings.

Clients are cached per process. What a service may not use on a request (the clients but
DynamoDB's, the job type registry) is handed over `lazy.on_first_use`: built by the first
call that needs it. Every function imports this module, so the modules of a service only some
functions build (the webhooks', the sweeper's, the uploads') are imported by its factory.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from jobgate import aws
from jobgate.config import Settings
from jobgate.lazy import on_first_use
from jobgate.registry import JobTypeRegistry, load_registry
from jobgate.service import JobService
from jobgate.store.executions import Executions
from jobgate.store.jobs import JobStore
from jobgate.store.results import ResultStore
from jobgate.store.tenants import TenantStore

if TYPE_CHECKING:
    from jobgate.store.uploads import UploadStore
    from jobgate.sweeper import JobSweeper
    from jobgate.webhooks.delivery import WebhookService


def job_service(settings: Settings | None = None, registry: JobTypeRegistry | None = None) -> JobService:
    settings = settings or Settings.from_environment()
    return JobService(
        settings=settings,
        jobs=JobStore(aws.dynamodb(), settings.jobs_table_name),
        results=result_store(settings),
        executions=Executions(on_first_use(aws.stepfunctions)),
        registry=registry or on_first_use(partial(load_registry, settings.job_type_modules)),
    )


def job_sweeper(settings: Settings | None = None) -> JobSweeper:
    from jobgate.sweeper import JobSweeper, SweeperSettings

    settings = settings or Settings.from_environment()
    return JobSweeper(
        service=job_service(settings),
        jobs=JobStore(aws.dynamodb(), settings.jobs_table_name),
        executions=Executions(on_first_use(aws.stepfunctions)),
        bounds=SweeperSettings.from_environment(),
    )


def result_store(settings: Settings | None = None) -> ResultStore:
    settings = settings or Settings.from_environment()
    return ResultStore(aws.dynamodb(), on_first_use(aws.s3), settings.jobs_table_name, settings.artifacts_bucket_name)


def tenant_store(settings: Settings | None = None) -> TenantStore:
    settings = settings or Settings.from_environment()
    return TenantStore(aws.dynamodb(), settings.tenants_table_name)


def upload_store(settings: Settings | None = None) -> UploadStore:
    from jobgate.store.uploads import UploadStore

    settings = settings or Settings.from_environment()
    return UploadStore(aws.s3(), settings.artifacts_bucket_name)


def webhook_service(settings: Settings | None = None) -> WebhookService:
    from jobgate.store.deliveries import DeliveryStore
    from jobgate.webhooks.delivery import WebhookService

    settings = settings or Settings.from_environment()
    return WebhookService(
        settings=settings,
        deliveries=DeliveryStore(aws.dynamodb(), settings.jobs_table_name),
        tenants=TenantStore(aws.dynamodb(), settings.tenants_table_name),
        sqs=on_first_use(aws.sqs),
    )
