"""Settings of the bulk-import task functions (read through jobgate.config's environment seam)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobgate.config import current_environment


class BulkImportSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    imported_records_table_name: str = Field(alias="IMPORTED_RECORDS_TABLE_NAME")

    @classmethod
    def from_environment(cls) -> BulkImportSettings:
        return cls.model_validate(dict(current_environment()))
