"""The `order-fulfillment` job type: a saga that reserves stock, charges, ships and confirms.

Any failure, or a cancel while it runs, undoes the steps already done in reverse order
(cancel the shipment, refund the charge, release the stock); see docs/job-types/order-fulfillment.md.
This module is the registration (JobTypeModules).
"""

from __future__ import annotations

from jobgate.jobtypes.order_fulfillment.models import ORDER_STEPS, OrderInput
from jobgate.registry import JobType, Workflow, static_steps

JOB_TYPE = JobType(
    name="order-fulfillment",
    input_model=OrderInput,
    steps=static_steps(*ORDER_STEPS),
    description="Reserves stock, charges the card, books the shipment, confirms; undoes it all on failure.",
    # Every order runs on Express (a run is a few seconds whatever its input); one cut off by
    # Express's 5 minutes (a long throttling burst) is undone on the Standard machine.
    workflow=Workflow.EXPRESS,
    recovers_cut_off_runs=True,
    # A cancel must run the compensations, so the workflow is not stopped: it cancels cooperatively.
    stop_on_cancel=False,
)
