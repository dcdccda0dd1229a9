"""What the bulk-import tasks work with; built by wiring.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobgate.jobtypes.bulk_import.store import RecordTable
from jobgate.jobtypes.control import JobControl

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client


@dataclass
class PlanDeps:
    jobs: JobControl
    s3: S3Client
    # The artifacts bucket: the upload, and the error parts and report.
    bucket: str


@dataclass
class ImportDeps(PlanDeps):
    """Chunk and Finish also read and write the imported records."""

    records: RecordTable
