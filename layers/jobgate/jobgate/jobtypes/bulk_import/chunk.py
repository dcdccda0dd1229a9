"""ProcessChunk: stream one byte range of the upload, validate each row, load the valid ones.

Memory stays flat: the range is read through a text wrapper in small pieces, rows go to
DynamoDB 25 at a time, and the chunk's errors go to a spooled temporary file (on disk past
1 MiB) that becomes the chunk's error part in S3. Line numbers in a part are relative to
the chunk; Finish adds each chunk's offset when it merges the parts.
"""

from __future__ import annotations

import csv
import io
import tempfile
from typing import IO, Any, Protocol

from pydantic import ConfigDict, Field

from jobgate.jobtypes.bulk_import.deps import ImportDeps
from jobgate.jobtypes.bulk_import.models import (
    BulkImportInput,
    ChunkSpec,
    ChunkSummary,
    FileInfo,
    PassRef,
    TooManyErrors,
)
from jobgate.jobtypes.bulk_import.objects import UploadedFile, error_part_key
from jobgate.jobtypes.bulk_import.schema import CustomerRecord, parse_row
from jobgate.lazy import LazyModel

SPOOL_BYTES = 1024 * 1024
MIN_REPORT_BYTES = 64 * 1024
REJECTED_COUNTER = "rejected"


class ByteRanges(Protocol):
    bucket: str

    def open_range(self, start: int, end: int, etag: str) -> Any: ...


class ChunkRequest(LazyModel):
    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="jobId")
    input: BulkImportInput
    file: FileInfo
    chunk: ChunkSpec
    pass_name: str = Field(alias="pass", pattern="^(validate|load)$")


def run_chunk(deps: ImportDeps, request: ChunkRequest) -> ChunkSummary:
    """Process the chunk of the job's own upload (the key is built from the job's tenant)."""
    tenant_id = deps.jobs.require_active(request.job_id).tenant_id
    return process_chunk(deps, UploadedFile(deps.s3, deps.bucket, tenant_id, request.input.upload), request)


def process_chunk(deps: ImportDeps, upload: ByteRanges, request: ChunkRequest) -> ChunkSummary:
    job = deps.jobs.require_active(request.job_id)
    run = _ChunkRun(deps, request, PassRef.of(request.input, request.pass_name), job.tenant_id)
    run.check_error_budget()
    body = upload.open_range(request.chunk.start, request.chunk.end, request.file.etag)
    try:
        return run.consume(body)
    finally:
        body.close()


class _ChunkRun:
    def __init__(self, deps: ImportDeps, request: ChunkRequest, pass_ref: PassRef, tenant_id: str) -> None:
        self.deps = deps
        self.request = request
        self.pass_ref = pass_ref
        self.tenant_id = tenant_id
        self.size = request.chunk.end - request.chunk.start
        self.report_every = max(MIN_REPORT_BYTES, self.size // 4)
        self.reported = 0

    def check_error_budget(self) -> None:
        limit = self.request.input.max_errors
        if limit is not None and self.deps.records.read_counter(self.request.job_id, REJECTED_COUNTER) > limit:
            raise self._too_many(limit)

    def consume(self, body: IO[bytes]) -> ChunkSummary:
        first_chunk = self.request.chunk.start == 0
        text = io.TextIOWrapper(body, encoding="utf-8-sig" if first_chunk else "utf-8", errors="replace", newline="\n")
        writer = self.deps.records.writer(self.tenant_id, self.request.job_id) if self.pass_ref.loads else None
        header = self.request.file.header
        limit = self.request.input.max_errors
        lines = rows = loaded = rejected = error_lines = 0
        read = 0
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b") as spool:
            errors_out = io.TextIOWrapper(spool, encoding="utf-8", newline="", write_through=True)
            error_writer = csv.writer(errors_out)
            for line in text:
                lines += 1
                read += len(line.encode("utf-8", errors="replace"))
                if read - self.reported >= self.report_every:
                    self._report(read - self.reported)
                if (first_chunk and lines == 1) or not line.strip():
                    continue
                rows += 1
                parsed = parse_row(header, line, lines)
                if isinstance(parsed, CustomerRecord):
                    if writer is not None:
                        writer.add(parsed)
                        loaded += 1
                    continue
                rejected += 1
                for error in parsed:
                    error_writer.writerow([error.line, error.field, error.message])
                    error_lines += 1
                if (
                    limit is not None
                    and self.deps.records.add_to_counter(self.request.job_id, REJECTED_COUNTER, 1) > limit
                ):
                    raise self._too_many(limit)
            if writer is not None:
                writer.flush()
            errors_out.detach()  # flushes; upload_fileobj closes what it uploads
            if error_lines:
                spool.seek(0)
                self.deps.s3.upload_fileobj(
                    spool,
                    self.deps.bucket,
                    error_part_key(self.tenant_id, self.request.job_id, self.request.chunk.index),
                    ExtraArgs={"ContentType": "text/csv"},
                )
        self._report(max(0, self.size - self.reported))
        return ChunkSummary(
            index=self.request.chunk.index,
            lines=lines,
            rows=rows,
            loaded=loaded,
            rejected=rejected,
            error_lines=error_lines,
        )

    def _report(self, new_bytes: int) -> None:
        self.reported += new_bytes
        job_id = self.request.job_id
        done = self.deps.records.add_to_counter(job_id, f"bytes{self.pass_ref.index}", new_bytes)
        total = max(1, self.request.file.total_bytes)
        self.deps.jobs.require_active(job_id)
        verb = "Validating" if self.pass_ref.name == "validate" else "Loading"
        self.deps.jobs.advance_progress(
            job_id,
            f"{verb}: {min(done, total):,} of {total:,} bytes processed.",
            self.pass_ref.percent(done / total),
        )

    def _too_many(self, limit: int) -> TooManyErrors:
        return TooManyErrors(f"More than {limit} rows are invalid (maxErrors = {limit}); the import stopped early.")
