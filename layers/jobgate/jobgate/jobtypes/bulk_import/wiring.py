"""Builds the bulk-import tasks' dependencies from the function's settings."""

from __future__ import annotations

from jobgate import aws, wiring
from jobgate.config import Settings
from jobgate.jobtypes.bulk_import.deps import ImportDeps, PlanDeps
from jobgate.jobtypes.bulk_import.settings import BulkImportSettings
from jobgate.jobtypes.bulk_import.store import RecordTable


def plan_deps(settings: Settings | None = None) -> PlanDeps:
    settings = settings or Settings.from_environment()
    return PlanDeps(jobs=wiring.job_service(settings), s3=aws.s3(), bucket=settings.artifacts_bucket_name)


def import_deps(settings: Settings | None = None, import_settings: BulkImportSettings | None = None) -> ImportDeps:
    """For Chunk and Finish, whose functions are given the ImportedRecordsTable."""
    settings = settings or Settings.from_environment()
    import_settings = import_settings or BulkImportSettings.from_environment()
    return ImportDeps(
        jobs=wiring.job_service(settings),
        s3=aws.s3(),
        bucket=settings.artifacts_bucket_name,
        records=RecordTable(aws.dynamodb(), import_settings.imported_records_table_name),
    )
