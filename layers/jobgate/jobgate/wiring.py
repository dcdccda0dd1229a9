"""Builds the services a function needs from its settings (clients are cached per process)."""

from __future__ import annotations

from jobgate import aws
from jobgate.config import Settings
from jobgate.registry import JobTypeRegistry, load_registry
from jobgate.service import JobService
from jobgate.store.deliveries import DeliveryStore
from jobgate.store.executions import Executions
from jobgate.store.jobs import JobStore
from jobgate.store.results import ResultStore
from jobgate.store.tenants import TenantStore
from jobgate.store.uploads import UploadStore
from jobgate.sweeper import JobSweeper, SweeperSettings
from jobgate.webhooks.delivery import WebhookService


def job_service(settings: Settings | None = None, registry: JobTypeRegistry | None = None) -> JobService:
    settings = settings or Settings.from_environment()
    return JobService(
        settings=settings,
        jobs=JobStore(aws.dynamodb(), settings.jobs_table_name),
        results=result_store(settings),
        executions=Executions(aws.stepfunctions()),
        registry=registry or load_registry(settings.job_type_modules),
    )


def job_sweeper(settings: Settings | None = None) -> JobSweeper:
    settings = settings or Settings.from_environment()
    return JobSweeper(
        service=job_service(settings),
        jobs=JobStore(aws.dynamodb(), settings.jobs_table_name),
        executions=Executions(aws.stepfunctions()),
        bounds=SweeperSettings.from_environment(),
    )


def result_store(settings: Settings | None = None) -> ResultStore:
    settings = settings or Settings.from_environment()
    return ResultStore(aws.dynamodb(), aws.s3(), settings.jobs_table_name, settings.artifacts_bucket_name)


def tenant_store(settings: Settings | None = None) -> TenantStore:
    settings = settings or Settings.from_environment()
    return TenantStore(aws.dynamodb(), settings.tenants_table_name)


def upload_store(settings: Settings | None = None) -> UploadStore:
    settings = settings or Settings.from_environment()
    return UploadStore(aws.s3(), settings.artifacts_bucket_name)


def webhook_service(settings: Settings | None = None) -> WebhookService:
    settings = settings or Settings.from_environment()
    return WebhookService(
        settings=settings,
        deliveries=DeliveryStore(aws.dynamodb(), settings.jobs_table_name),
        tenants=TenantStore(aws.dynamodb(), settings.tenants_table_name),
        sqs=aws.sqs(),
    )
