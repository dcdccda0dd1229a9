"""PlanChunks: split the upload into byte ranges that end at line ends, without reading it.

Reads the header line, then for each nominal boundary (every chunkBytes) a small range
just before it until the next newline: a few KiB per chunk, whatever the file's size.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from jobgate.bulk_import.model import ChunkSpec, FileInfo, Plan
from jobgate.bulk_import.objects import Upload
from jobgate.bulk_import.schema import InvalidHeader, parse_header

PROBE_BYTES = 16 * 1024
MAX_HEADER_BYTES = 64 * 1024
# Keeps the Map's item list and its results well inside Step Functions' 256 KiB payload
# (larger files get larger chunks).
MAX_CHUNKS = 500


def plan_chunks(upload: Upload, chunk_bytes: int) -> Plan:
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


def _newline_at_or_after(upload: Upload, position: int, size: int, etag: str, limit: int | None = None) -> int | None:
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


def _read(upload: Upload, start: int, end: int, etag: str) -> bytes:
    body: Any = upload.open_range(start, end, etag)
    try:
        data: bytes = body.read(end - start)
        return data
    finally:
        body.close()
