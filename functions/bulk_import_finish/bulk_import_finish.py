"""Lambda: check / finish / rollback of the `bulk-import` job type (see jobgate.bulk_import.finish)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobgate import aws, wiring
from jobgate.bulk_import.finish import FinishDeps, FinishRequest, run_finish
from jobgate.bulk_import.settings import BulkImportSettings
from jobgate.bulk_import.store import RecordTable
from jobgate.config import Settings
from jobgate.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = FinishRequest.model_validate(event)
    logger.append_keys(job_id=request.job_id, action=request.action)
    settings = Settings.from_environment()
    deps = FinishDeps(
        service=wiring.job_service(settings),
        records=RecordTable(aws.dynamodb(), BulkImportSettings.from_environment().imported_records_table_name),
        s3=aws.s3(),
        bucket=settings.artifacts_bucket_name,
    )
    return run_finish(deps, request)
