"""Lambda: ask one vendor to check the candidate (the `background-check` job type).

Invoked by a `.waitForTaskToken` task: it keeps the task token under a callback id and
returns at once; the workflow waits until the vendor's signed callback resumes it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import aws, wiring
from jobgate.background_check.callbacks import VendorCallbackStore
from jobgate.background_check.settings import BackgroundCheckSettings
from jobgate.background_check.vendors import VendorApi
from jobgate.background_check.workflow import StartVendorCheckRequest, start_vendor_check
from jobgate.config import Settings
from jobgate.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = StartVendorCheckRequest.model_validate(event)
    logger.append_keys(job_id=request.job_id, vendor=request.vendor.value)
    settings = Settings.from_environment()
    check_settings = BackgroundCheckSettings.from_environment()
    return start_vendor_check(
        wiring.job_service(settings),
        VendorCallbackStore(aws.dynamodb(), settings.jobs_table_name),
        VendorApi(check_settings.vendor_api_url),
        check_settings.api_base_url,
        request,
    )
