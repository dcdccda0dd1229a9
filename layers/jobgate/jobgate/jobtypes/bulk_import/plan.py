"""PlanChunks: split the upload into byte ranges that end at line ends, without reading it.

Reads the header line, then for each nominal boundary (every chunkBytes) a small range
just before it until the next newline: a few KiB per chunk, whatever the file's size.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from pydantic import ConfigDict, Field

from jobgate.domain.models import StepStatus
from jobgate.jobtypes.bulk_import.deps import PlanDeps
from jobgate.jobtypes.bulk_import.models import BulkImportInput, ChunkSpec, FileInfo, Plan, bulk_import_passes
from jobgate.jobtypes.bulk_import.objects import UploadedFile
from jobgate.jobtypes.bulk_import.schema import InvalidHeader, parse_header
from jobgate.lazy import LazyModel

PROBE_BYTES = 16 * 1024
MAX_HEADER_BYTES = 64 * 1024
# Keeps the Map's item list and its results well inside Step Functions' 256 KiB payload
# (larger files get larger chunks).
MAX_CHUNKS = 500


class PlanRequest(LazyModel):
    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="jobId")
    input: BulkImportInput


def run_plan(deps: PlanDeps, request: PlanRequest) -> Plan:
    job = deps.jobs.start_or_resume(request.job_id)  # the first task starts the job
    deps.jobs.record_step(request.job_id, bulk_import_passes(request.input)[0], StepStatus.RUNNING)
    # The key is built from the job's own tenant: an upload id of another tenant finds nothing.
    upload = UploadedFile(deps.s3, deps.bucket, job.tenant_id, request.input.upload)
    return plan_chunks(upload, request.input.chunk_bytes)


def plan_chunks(upload: UploadedFile, chunk_bytes: int) -> Plan:
    size, etag = upload.head()
    if size == 0:
        raise InvalidHeader("The upload is empty: the first line must be the CSV header.")
    header_end = _newline_at_or_after(upload, 0, size, etag, limit=MAX_HEADER_BYTES)
    header_bytes = _read(upload, 0, header_end + 1 if header_end is not None else size, etag)
    header = parse_header(header_bytes.decode("utf-8-sig", errors="replace"))
    chunk_size = max(chunk_bytes, math.ceil(size / MAX_CHUNKS))
    boundaries = [0]
    nominal = chunk_size
    while nominal < size:
        newline = _newline_at_or_after(upload, nominal - 1, size, etag)
        if newline is None or newline + 1 >= size:
            break
        boundaries.append(newline + 1)
        nominal = newline + 1 + chunk_size
    boundaries.append(size)
    chunks = [ChunkSpec(index=i, start=start, end=end) for i, (start, end) in enumerate(itertools.pairwise(boundaries))]
    return Plan(file=FileInfo(header=header, total_bytes=size, etag=etag), chunks=chunks)


def _newline_at_or_after(
    upload: UploadedFile, position: int, size: int, etag: str, limit: int | None = None
) -> int | None:
    """Offset of the first b"\\n" at or after `position`, reading PROBE_BYTES at a time."""
    start = position
    while start < size:
        if limit is not None and start - position >= limit:
            raise InvalidHeader(f"The first line is longer than {limit} bytes; it must be the CSV header.")
        end = min(size, start + PROBE_BYTES)
        found = _read(upload, start, end, etag).find(b"\n")
        if found >= 0:
            return start + found
        start = end
    return None


def _read(upload: UploadedFile, start: int, end: int, etag: str) -> bytes:
    body: Any = upload.open_range(start, end, etag)
    try:
        data: bytes = body.read(end - start)
        return data
    finally:
        body.close()
