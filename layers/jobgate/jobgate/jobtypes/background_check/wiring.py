"""Builds the background-check tasks and the vendor-callback route's resumer from the settings."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from jobgate import aws, wiring
from jobgate.config import Settings
from jobgate.domain.status import JobStatus
from jobgate.jobtypes.background_check.resume import CallbackResumer
from jobgate.jobtypes.background_check.settings import BackgroundCheckSettings
from jobgate.jobtypes.background_check.store import VendorCallbackStore
from jobgate.jobtypes.background_check.workflow import Bookkeeping, VendorRequests


def vendor_callbacks(settings: Settings | None = None) -> VendorCallbackStore:
    # The callbacks live in the jobs table.
    settings = settings or Settings.from_environment()
    return VendorCallbackStore(aws.dynamodb(), settings.jobs_table_name)


def vendor_requests(check_settings: BackgroundCheckSettings | None = None) -> VendorRequests:
    # Imported here: the vendors' client brings requests (~50 ms of a cold start), which only
    # the function that calls the vendors needs (not the API's callback route, not bookkeeping).
    from jobgate.jobtypes.background_check.vendors import VendorApi

    settings = Settings.from_environment()
    check_settings = check_settings or BackgroundCheckSettings.from_environment()
    return VendorRequests(
        wiring.job_service(settings),
        vendor_callbacks(settings),
        VendorApi(check_settings.vendor_api_url),
        check_settings.api_base_url,
    )


def bookkeeping() -> Bookkeeping:
    return Bookkeeping(wiring.job_service())


# How long a warm API function keeps the vendor secret: a changed value is used within 5
# minutes, and a callback costs no Secrets Manager call (nor its price) but every 5 minutes.
VENDOR_SECRET_MAX_AGE_SECONDS = 300


def callback_resumer(check_settings: BackgroundCheckSettings | None = None) -> CallbackResumer:
    check_settings = check_settings or BackgroundCheckSettings.from_environment()
    return CallbackResumer(
        vendor_callbacks(),
        aws.stepfunctions(),
        vendor_callback_secret(check_settings.vendor_callback_secret_arn),
        _job_status,
    )


def vendor_callback_secret(secret_arn: str) -> str:
    """The secret's value, from Secrets Manager (cached); "" when none is configured."""
    if not secret_arn:
        return ""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return str(aws.secrets().get(secret_arn, max_age=VENDOR_SECRET_MAX_AGE_SECONDS))
    except GetParameterError as error:
        # Powertools wraps the AWS error in its own: raise that, so a throttled or unreachable
        # Secrets Manager is the API's 503 (app.py), as any other AWS dependency's.
        if isinstance(error.__context__, ClientError | BotoCoreError):
            raise error.__context__ from None
        raise


def _job_status(job_id: str) -> JobStatus | None:
    job = wiring.job_service().peek(job_id)
    return job.status if job else None
