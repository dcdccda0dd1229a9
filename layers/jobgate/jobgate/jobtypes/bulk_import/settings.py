"""Settings of the bulk-import task functions."""

from __future__ import annotations

from pydantic import Field

from jobgate.jobtypes.settings import JobTypeSettings


class BulkImportSettings(JobTypeSettings):
    imported_records_table_name: str = Field(alias="IMPORTED_RECORDS_TABLE_NAME")
