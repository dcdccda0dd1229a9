"""The `bulk-import` job type's input, what its tasks hand each other through the state machine, and their errors."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from jobgate.ids import UPLOAD_ID_PATTERN
from jobgate.lazy import LazyModel

DEFAULT_CHUNK_BYTES = 1024 * 1024
ALL_OR_NOTHING = "all-or-nothing"
BEST_EFFORT = "best-effort"


class BulkImportInput(LazyModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # Only the id: the object key is built from the job's own tenant, never taken from input.
    upload: str = Field(pattern=UPLOAD_ID_PATTERN.pattern, description="An uploadId from POST /uploads.")
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


# Step Functions' error name is the exception's class name: Retry/Catch and the job's error.type.


class UploadNotFound(Exception):
    """No object for this upload id in the job's own tenant area (never uploaded, expired, or another tenant's)."""


class UploadChanged(Exception):
    """The upload was overwritten while the job read it."""


class TooManyErrors(Exception):
    """More rows were invalid than maxErrors allows."""


class ImportRejected(Exception):
    """all-or-nothing: some rows are invalid, so nothing was loaded."""


class LoadFailed(Exception):
    """DynamoDB kept refusing part of a batch after retries."""


class Wire(LazyModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class ChunkSpec(Wire):
    index: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(gt=0, description="Exclusive; always just after a line end (or the end of the file).")


class FileInfo(Wire):
    header: list[str]
    total_bytes: int = Field(alias="totalBytes", ge=0)
    etag: str


class Plan(Wire):
    file: FileInfo
    chunks: list[ChunkSpec]


class ChunkSummary(Wire):
    index: int
    lines: int = Field(description="Physical lines in the chunk (the header counts, in chunk 0).")
    rows: int
    loaded: int
    rejected: int
    error_lines: int = Field(alias="errorLines", description="Lines of the chunk's error part.")


class PassRef(LazyModel):
    """Which pass over the file, and where it sits in the job's percent (passes share 0-100)."""

    name: str
    index: int
    count: int

    @classmethod
    def of(cls, job_input: BulkImportInput, name: str) -> PassRef:
        passes = bulk_import_passes(job_input)
        return cls(name=name, index=passes.index(name), count=len(passes))

    @property
    def loads(self) -> bool:
        return self.name == "load"

    def percent(self, fraction: float) -> int:
        return min(99, int(100 * (self.index + min(1.0, fraction)) / self.count))


def is_all_or_nothing(job_input: BulkImportInput) -> bool:
    return job_input.mode == ALL_OR_NOTHING
