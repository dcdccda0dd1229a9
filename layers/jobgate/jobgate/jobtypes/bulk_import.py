"""The `bulk-import` job type: load an uploaded CSV of customer records into a DynamoDB table.

See docs/job-types/bulk-import.md. The work lives in `jobgate.bulk_import`; this module
is the registration: the input model and the steps shown from the start.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jobgate.jobtypes.registry import JobType

DEFAULT_CHUNK_BYTES = 1024 * 1024
ALL_OR_NOTHING = "all-or-nothing"
BEST_EFFORT = "best-effort"


class BulkImportInput(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # Only the id: the object key is built from the job's own tenant, never taken from input.
    upload: str = Field(pattern=r"^upl_[0-9A-HJKMNP-TV-Z]{26}$", description="An uploadId from POST /uploads.")
    mode: Literal["all-or-nothing", "best-effort"] = Field(
        default="best-effort",
        description="all-or-nothing: any invalid row and nothing is loaded; best-effort: load the valid rows.",
    )
    max_errors: int | None = Field(
        default=None, ge=0, alias="maxErrors", description="Stop and fail once more rows than this are invalid."
    )
    chunk_bytes: int = Field(
        default=DEFAULT_CHUNK_BYTES,
        ge=256,
        le=64 * 1024 * 1024,
        alias="chunkBytes",
        description="Size of the byte ranges processed in parallel (aligned to line ends).",
    )


def bulk_import_passes(job_input: BulkImportInput) -> list[str]:
    """The passes over the file, which are also the job's steps."""
    return ["validate", "load"] if job_input.mode == ALL_OR_NOTHING else ["load"]


def _steps(validated: BaseModel) -> list[str]:
    assert isinstance(validated, BulkImportInput)
    return bulk_import_passes(validated)


JOB_TYPE = JobType(
    name="bulk-import",
    input_model=BulkImportInput,
    steps=_steps,
    description="Validates an uploaded CSV of customer records and loads the valid rows.",
    # A cancel is seen by the next chunk (JobCancelled), so all-or-nothing can remove what it loaded.
    stop_on_cancel=False,
)
