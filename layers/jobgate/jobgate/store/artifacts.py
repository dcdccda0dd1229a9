"""Object keys of the artifacts bucket: one place for its layout.

uploads/<tenant>/<upload id>: an input PUT through POST /uploads.
results/<tenant>/<job id><suffix>: what a job leaves behind, its result
(`.<attempt>.json`: each attempt to complete the job writes a key of its own, so a losing
attempt never touches the winner's object) and any file of its own (a job type picks the
suffix). Everything a job leaves starts with `job_artifacts_prefix`, and no other job's key
does (job ids have one length). The template's lifecycle rules and policies name the two
prefixes.
"""

from __future__ import annotations

UPLOADS_PREFIX = "uploads/"
RESULTS_PREFIX = "results/"
RESULT_SUFFIX = ".json"


def upload_key(tenant_id: str, upload_id: str) -> str:
    """Keys carry the tenant, so a job can only ever read its own tenant's uploads."""
    return f"{UPLOADS_PREFIX}{tenant_id}/{upload_id}"


def job_artifacts_prefix(tenant_id: str, job_id: str) -> str:
    return f"{RESULTS_PREFIX}{tenant_id}/{job_id}"


def job_artifact_key(tenant_id: str, job_id: str, suffix: str) -> str:
    return f"{job_artifacts_prefix(tenant_id, job_id)}{suffix}"


def result_key(tenant_id: str, job_id: str, attempt_id: str) -> str:
    return job_artifact_key(tenant_id, job_id, f".{attempt_id}{RESULT_SUFFIX}")
