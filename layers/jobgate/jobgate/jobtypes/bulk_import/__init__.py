"""The `bulk-import` job type: load an uploaded CSV of customer records into a DynamoDB table.

See docs/job-types/bulk-import.md. This module is the registration (JobTypeModules): the
input model and the steps shown from the start; the tasks are plan.py, chunk.py and finish.py.
"""

from __future__ import annotations

from pydantic import BaseModel

from jobgate.jobtypes.bulk_import.models import BulkImportInput, bulk_import_passes
from jobgate.registry import JobType


def _steps(validated: BaseModel) -> list[str]:
    assert isinstance(validated, BulkImportInput)
    return bulk_import_passes(validated)


JOB_TYPE = JobType(
    name="bulk-import",
    input_model=BulkImportInput,
    steps=_steps,
    description="Validates an uploaded CSV of customer records and loads the valid rows.",
    # A cancel is seen by the next chunk (JobCancelled), so all-or-nothing can remove what it loaded.
    stop_on_cancel=False,
)
