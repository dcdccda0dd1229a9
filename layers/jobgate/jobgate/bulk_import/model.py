"""What the bulk-import tasks hand each other through the state machine, and their errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobgate.jobtypes.bulk_import import ALL_OR_NOTHING, BulkImportInput, bulk_import_passes

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


class Wire(BaseModel):
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


class PassRef(BaseModel):
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
