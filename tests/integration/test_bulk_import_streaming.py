"""bulk-import reads its upload in pieces: chunk planning and chunk processing never read it whole."""

from __future__ import annotations

import io
import tracemalloc
from typing import Any

import boto3
import pytest

from jobgate.jobtypes.bulk_import.chunk import ChunkRequest, process_chunk
from jobgate.jobtypes.bulk_import.deps import ImportDeps
from jobgate.jobtypes.bulk_import.models import ChunkSummary, UploadNotFound
from jobgate.jobtypes.bulk_import.objects import UploadedFile
from jobgate.jobtypes.bulk_import.plan import PROBE_BYTES, plan_chunks
from jobgate.jobtypes.bulk_import.schema import COLUMNS
from jobgate.jobtypes.bulk_import.store import RecordTable
from tests.conftest import BUCKET

UPLOAD_ID = "upl_01M8KAEMFENKRE7F7P4PKNANMY"
HEADER_LINE = ",".join(COLUMNS) + "\n"


def row(n: int) -> bytes:
    return f"c-{n}@example.com,Customer {n},DE,2024-01-{1 + n % 28:02d},{n % 1000}.25\n".encode()


class CountingUpload(UploadedFile):
    """The real S3 upload, counting the bytes every ranged GET returns."""

    bytes_read = 0

    def open_range(self, start: int, end: int, etag: str) -> Any:
        self.bytes_read += end - start
        return super().open_range(start, end, etag)


def test_chunks_end_at_line_ends_and_cover_the_file(aws_backend: None) -> None:
    body = HEADER_LINE.encode() + b"".join(row(n) for n in range(5000))
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"uploads/acme/{UPLOAD_ID}", Body=body)
    upload = CountingUpload(boto3.client("s3"), BUCKET, "acme", UPLOAD_ID)
    plan = plan_chunks(upload, 16 * 1024)
    assert plan.file.header == list(COLUMNS)
    assert plan.file.total_bytes == len(body)
    assert len(plan.chunks) == pytest.approx(len(body) / (16 * 1024), abs=1)
    assert plan.chunks[0].start == 0
    assert plan.chunks[-1].end == len(body)
    for before, after in zip(plan.chunks, plan.chunks[1:], strict=False):
        assert before.end == after.start
        assert body[after.start - 1 : after.start] == b"\n"
    # It probed near each boundary instead of reading the file.
    assert upload.bytes_read <= (len(plan.chunks) + 1) * PROBE_BYTES
    assert b"".join(body[c.start : c.end] for c in plan.chunks) == body


def test_planning_another_tenants_upload_finds_nothing(aws_backend: None) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"uploads/globex/{UPLOAD_ID}", Body=HEADER_LINE.encode())
    with pytest.raises(UploadNotFound, match=UPLOAD_ID):
        plan_chunks(UploadedFile(boto3.client("s3"), BUCKET, "acme", UPLOAD_ID), 1024)


# --- processing a chunk: generated input, recorded reads, measured memory ------------------


class GeneratedBody(io.RawIOBase):
    """`rows` CSV rows made on demand: nothing holds the whole body. Records every read size."""

    def __init__(self, rows: int, with_header: bool) -> None:
        self._rows = rows
        self._next = 0
        self._pending = HEADER_LINE.encode() if with_header else b""
        self.read_sizes: list[int | None] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        self.read_sizes.append(size)
        assert size is not None, "the chunk task read its body without a size"
        assert size >= 0, "the chunk task read its body whole"
        return super().read(size)

    def readinto(self, buffer: Any) -> int:
        while len(self._pending) < len(buffer) and self._next < self._rows:
            self._pending += row(self._next)
            self._next += 1
        piece = self._pending[: len(buffer)]
        self._pending = self._pending[len(piece) :]
        buffer[: len(piece)] = piece
        return len(piece)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)


class GeneratedUpload:
    bucket = BUCKET

    def __init__(self, rows: int) -> None:
        self.body = GeneratedBody(rows, with_header=True)

    def open_range(self, start: int, end: int, etag: str) -> Any:
        return self.body


class DiscardingRecords(RecordTable):
    """Counts the batches instead of sending them, so only the chunk task's own memory is measured."""

    def __init__(self) -> None:
        self.batches = 0
        self.rows = 0

    def write_batch(self, requests: Any) -> None:
        self.batches += 1
        self.rows += len(requests)

    def add_to_counter(self, job_id: str, name: str, amount: int) -> int:
        return amount

    def read_counter(self, job_id: str, name: str) -> int:
        return 0

    def writer(self, tenant_id: str, job_id: str) -> Any:
        from jobgate.jobtypes.bulk_import.store import RecordWriter

        return RecordWriter(self, tenant_id, job_id, "2026-01-01T00:00:00.000Z")


class Job:
    tenant_id = "acme"


class Service:
    """The job control a chunk uses; progress reports are counted, not stored."""

    def __init__(self) -> None:
        self.reports = 0

    def require_active(self, job_id: str) -> Job:
        return Job()

    def advance_progress(self, job_id: str, message: str, percent: int) -> bool:
        self.reports += 1
        return True


def run_chunk(rows: int) -> tuple[ChunkSummary, int, GeneratedUpload, DiscardingRecords]:
    upload = GeneratedUpload(rows)
    records = DiscardingRecords()
    deps = ImportDeps(
        jobs=Service(),  # type: ignore[arg-type]
        records=records,
        s3=None,  # type: ignore[arg-type]
        bucket=BUCKET,
    )
    request = ChunkRequest.model_validate(
        {
            "jobId": "job_01M8KAEMFENKRE7F7P4PKNANMY",
            "input": {"upload": UPLOAD_ID},
            "file": {"header": list(COLUMNS), "totalBytes": rows * 64, "etag": '"x"'},
            "chunk": {"index": 0, "start": 0, "end": rows * 64},
            "pass": "load",
        }
    )
    tracemalloc.start()
    try:
        summary = process_chunk(deps, upload, request)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return summary, peak, upload, records


def test_a_chunk_is_streamed_and_loaded_in_batches_of_25() -> None:
    summary, _, upload, records = run_chunk(1000)
    assert (summary.rows, summary.loaded, summary.rejected, summary.lines) == (1000, 1000, 0, 1001)
    assert records.batches == 40
    assert records.rows == 1000
    assert upload.body.read_sizes, "the body was read"
    assert all(size is not None and 0 <= size <= 64 * 1024 for size in upload.body.read_sizes)


def test_memory_stays_flat_when_the_chunk_doubles() -> None:
    _, peak_small, _, _ = run_chunk(20_000)  # about 1.2 MB of CSV
    _, peak_large, _, _ = run_chunk(40_000)  # about 2.4 MB
    # Reading the chunk whole would make the peak grow with it (~2x); streaming keeps it level.
    assert peak_large < peak_small * 1.3
    assert peak_large < 1024 * 1024
