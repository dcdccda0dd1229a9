"""UploadStore: presigned S3 PUT URLs for inputs too large for a request body."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from jobgate.ids import new_upload_id
from jobgate.store import artifacts
from jobgate.timeutil import utc_now

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

UPLOAD_URL_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class PresignedUpload:
    upload_id: str
    url: str
    expires_at: datetime


class UploadStore:
    def __init__(self, s3: S3Client, bucket_name: str, clock: Callable[[], datetime] = utc_now) -> None:
        self._s3 = s3
        self._bucket = bucket_name
        self._clock = clock

    def create(self, tenant_id: str) -> PresignedUpload:
        upload_id = new_upload_id()
        url = self._s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self._bucket, "Key": artifacts.upload_key(tenant_id, upload_id)},
            ExpiresIn=int(UPLOAD_URL_LIFETIME.total_seconds()),
        )
        return PresignedUpload(upload_id=upload_id, url=url, expires_at=self._clock() + UPLOAD_URL_LIFETIME)
