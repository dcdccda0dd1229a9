"""Where a bulk import's files live in the artifacts bucket, and reading the upload safely."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from jobgate.jobtypes.bulk_import.models import UploadChanged, UploadNotFound
from jobgate.store import artifacts

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client


def error_report_key(tenant_id: str, job_id: str) -> str:
    return artifacts.job_artifact_key(tenant_id, job_id, "-errors.csv")


def error_part_key(tenant_id: str, job_id: str, chunk_index: int) -> str:
    return artifacts.job_artifact_key(tenant_id, job_id, f"-errors/part-{chunk_index:05d}.csv")


class UploadedFile:
    """The job's upload: always under its own tenant's prefix, whatever the input says."""

    def __init__(self, s3: S3Client, bucket: str, tenant_id: str, upload_id: str) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.upload_id = upload_id
        self.key = artifacts.upload_key(tenant_id, upload_id)

    def head(self) -> tuple[int, str]:
        """(size, etag)."""
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self.key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "403", "NoSuchKey", "NotFound"}:
                raise self._not_found() from None
            raise
        return int(head["ContentLength"]), str(head["ETag"])

    def open_range(self, start: int, end: int, etag: str) -> Any:
        """A streaming body of bytes [start, end): read it in pieces, never whole."""
        try:
            response = self._s3.get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes={start}-{end - 1}", IfMatch=etag
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in {"PreconditionFailed", "412"}:
                raise UploadChanged(f"Upload {self.upload_id} was replaced while the import read it.") from None
            if code in {"NoSuchKey", "404", "403"}:
                raise self._not_found() from None
            raise
        return response["Body"]

    def _not_found(self) -> UploadNotFound:
        return UploadNotFound(
            f"Upload {self.upload_id} was not found: upload the CSV with the URL POST /uploads returned "
            "(uploads are kept 2 days, and only the tenant that created one can import it)."
        )
