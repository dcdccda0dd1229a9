"""After the passes: merge the chunks' error parts into one report, then apply the mode.

- `check` (all-or-nothing, after the validate pass): any invalid row -> ImportRejected,
  nothing loaded; else the load pass starts.
- `finish` (after the load pass): the error report CSV, the result, the job succeeds.
- `rollback` (a failure or cancel after rows may have been loaded, all-or-nothing only):
  delete every row tagged with this job.
"""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ConfigDict, Field

from jobgate.domain.errors import JobCancelled
from jobgate.domain.models import StepStatus
from jobgate.jobtypes.bulk_import.deps import ImportDeps
from jobgate.jobtypes.bulk_import.models import BulkImportInput, ChunkSummary, ImportRejected, is_all_or_nothing
from jobgate.jobtypes.bulk_import.objects import error_part_key, error_report_key
from jobgate.lazy import LazyModel

# Errors listed in the result itself (the result is served inline up to 64 KiB, else by a
# 303 to S3); the CSV report always has all of them.
RESULT_ERROR_LIMIT = 10_000
DETAIL_ERROR_LIMIT = 5
SPOOL_BYTES = 1024 * 1024


class FinishRequest(LazyModel):
    model_config = ConfigDict(populate_by_name=True)

    action: Literal["check", "finish", "rollback"]
    job_id: str = Field(alias="jobId")
    input: BulkImportInput
    chunk_results: list[ChunkSummary] = Field(default_factory=list, alias="chunkResults")


@dataclass
class MergedReport:
    key: str
    error_lines: int
    first_errors: list[dict[str, Any]]


def run_finish(deps: ImportDeps, request: FinishRequest) -> dict[str, Any]:
    match request.action:
        case "check":
            check_validation(deps, request)
            return {"rejected": False}
        case "finish":
            finish(deps, request)
            # The job holds its result and has succeeded (see finish): nothing travels on.
            return {"result": None}
        case "rollback":
            return {"rowsRemoved": rollback(deps, request)}


def check_validation(deps: ImportDeps, request: FinishRequest) -> None:
    job = deps.jobs.require_active(request.job_id)
    rejected = sum(s.rejected for s in request.chunk_results)
    rows = sum(s.rows for s in request.chunk_results)
    if rejected:
        report = merge_error_parts(deps, job.tenant_id, request.job_id, request.chunk_results, DETAIL_ERROR_LIMIT)
        listed = "; ".join(f"line {e['line']} {e['field'] or 'row'}: {e['message']}" for e in report.first_errors)
        raise ImportRejected(
            f"{rejected} of {rows} rows are invalid, so nothing was loaded (mode all-or-nothing). "
            f"First errors: {listed}."
        )
    deps.jobs.record_step(request.job_id, "validate", StepStatus.SUCCEEDED, detail={"rows": rows})
    deps.jobs.record_step(request.job_id, "load", StepStatus.RUNNING)


def finish(deps: ImportDeps, request: FinishRequest) -> None:
    """Stores the result and succeeds the job here, ending the workflow: the result (all
    errors, up to 10,000) can exceed Step Functions' 256 KiB payload, so it does not travel
    through the state; a cancel that came first is JobCancelled (the rollback runs)."""
    job = deps.jobs.require_active(request.job_id)
    summaries = request.chunk_results
    report = merge_error_parts(deps, job.tenant_id, request.job_id, summaries, RESULT_ERROR_LIMIT)
    counts = {
        "rowsTotal": sum(s.rows for s in summaries),
        "rowsLoaded": sum(s.loaded for s in summaries),
        "rowsRejected": sum(s.rejected for s in summaries),
    }
    deps.jobs.record_step(request.job_id, "load", StepStatus.SUCCEEDED, detail=counts)
    result = {
        "mode": request.input.mode,
        **counts,
        "errors": report.first_errors,
        "errorsTruncated": report.error_lines > len(report.first_errors),
        "errorReport": {"key": report.key, "contentType": "text/csv", "errorLines": report.error_lines},
    }
    deps.jobs.complete_or_stop(request.job_id, result)


def rollback(deps: ImportDeps, request: FinishRequest) -> int:
    """all-or-nothing: remove what this job loaded. best-effort keeps the rows it loaded."""
    if not is_all_or_nothing(request.input):
        return 0
    removed = deps.records.delete_loaded_by(request.job_id)
    job = deps.jobs.peek(request.job_id)
    load_started = job is not None and any(
        s.name == "load" and s.status is not StepStatus.PENDING for s in job.progress.steps
    )
    if load_started:
        # Cancelled meanwhile (JobCancelled): the rows are gone all the same.
        with contextlib.suppress(JobCancelled):
            deps.jobs.record_step(request.job_id, "load", StepStatus.COMPENSATED, detail={"rowsRemoved": removed})
    return removed


def merge_error_parts(
    deps: ImportDeps, tenant_id: str, job_id: str, summaries: list[ChunkSummary], keep: int
) -> MergedReport:
    """Streams every chunk's part into one CSV with absolute line numbers; keeps the first `keep`."""
    key = error_report_key(tenant_id, job_id)
    first: list[dict[str, Any]] = []
    total = 0
    offset = 0
    parts: list[str] = []
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b") as spool:
        out = io.TextIOWrapper(spool, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(out)
        writer.writerow(["line", "field", "message"])
        for summary in sorted(summaries, key=lambda s: s.index):
            if summary.error_lines:
                part = error_part_key(tenant_id, job_id, summary.index)
                parts.append(part)
                body: Any = deps.s3.get_object(Bucket=deps.bucket, Key=part)["Body"]
                for row in csv.reader(io.TextIOWrapper(body, encoding="utf-8", newline="")):
                    line = int(row[0]) + offset
                    writer.writerow([line, row[1], row[2]])
                    total += 1
                    if len(first) < keep:
                        first.append({"line": line, "field": row[1], "message": row[2]})
                body.close()
            offset += summary.lines
        out.detach()  # flushes; upload_fileobj closes what it uploads
        spool.seek(0)
        deps.s3.upload_fileobj(spool, deps.bucket, key, ExtraArgs={"ContentType": "text/csv"})
    for start in range(0, len(parts), 1000):
        deps.s3.delete_objects(
            Bucket=deps.bucket, Delete={"Objects": [{"Key": k} for k in parts[start : start + 1000]], "Quiet": True}
        )
    return MergedReport(key=key, error_lines=total, first_errors=first)
