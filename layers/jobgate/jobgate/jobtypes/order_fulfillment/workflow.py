"""The order saga's tasks: four forward steps, their three compensations, and the conclusion.

The state machine (statemachines/order-fulfillment.asl.json) passes its whole state to every
task as `saga`. A forward step that fails, or finds the job `cancelling`, is caught; the
machine then runs the compensations from that step backwards. Each compensation undoes
its step if the step had started (found through the provider's idempotency key or the
reservation record, so an effect whose answer was lost is undone too) and marks it
`compensated`; a compensation that still fails after its Retry is caught, and `conclude`
turns what happened into the job's outcome, never claiming a rollback that did not happen.

Orders run on Express, which may run an execution (or a task) twice: every forward step is
idempotent (the reservation record, the providers' idempotency keys), and nothing is undone
once the job succeeded. An Express run cut off before it ended the job is undone on the
Standard machine, which the job sweeper starts with `recovery` (the error the job ends with)
and which enters straight at the compensations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field

from jobgate.domain.errors import JobCancelled
from jobgate.domain.models import Job, Step, StepStatus
from jobgate.domain.status import JobStatus
from jobgate.domain.workflow_errors import WorkflowError, readable_cause
from jobgate.jobtypes.control import JobControl
from jobgate.jobtypes.order_fulfillment.models import (
    CHARGE_PAYMENT,
    CONFIRM_ORDER,
    CREATE_SHIPMENT,
    RESERVE_INVENTORY,
    OrderInput,
)
from jobgate.jobtypes.order_fulfillment.store import Line, StockStore
from jobgate.lazy import LazyModel

if TYPE_CHECKING:
    from jobgate.jobtypes.order_fulfillment.providers import PaymentClient, Shipment, ShippingClient

CANCEL_SHIPMENT = "cancel-shipment"
REFUND_PAYMENT = "refund-payment"
RELEASE_STOCK = "release-stock"
# Each compensation, the step it undoes, and where the state machine's Catch puts its error.
COMPENSATIONS: tuple[tuple[str, str, str], ...] = (
    (CANCEL_SHIPMENT, CREATE_SHIPMENT, "cancelShipmentError"),
    (REFUND_PAYMENT, CHARGE_PAYMENT, "refundPaymentError"),
    (RELEASE_STOCK, RESERVE_INVENTORY, "releaseStockError"),
)
COMPENSATION_FAILED = "CompensationFailed"


class SagaState(LazyModel):
    """The state machine's state, as every task receives it."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    job_id: str = Field(alias="jobId")
    input: OrderInput
    charge: dict[str, Any] | None = None
    shipment: dict[str, Any] | None = None
    cancel: WorkflowError | None = None
    error: WorkflowError | None = None
    cancel_shipment_error: WorkflowError | None = Field(default=None, alias="cancelShipmentError")
    refund_payment_error: WorkflowError | None = Field(default=None, alias="refundPaymentError")
    release_stock_error: WorkflowError | None = Field(default=None, alias="releaseStockError")
    recovery: WorkflowError | None = None
    """Set by the job sweeper on a run that undoes a cut-off Express run: what the job fails with."""

    def compensation_error(self, compensation: str) -> WorkflowError | None:
        return {
            CANCEL_SHIPMENT: self.cancel_shipment_error,
            REFUND_PAYMENT: self.refund_payment_error,
            RELEASE_STOCK: self.release_stock_error,
        }[compensation]


class SagaTask(LazyModel):
    action: str
    saga: SagaState


# --- forward steps ------------------------------------------------------------------------


class InventorySteps:
    """reserve-inventory, confirm-order and their compensation release-stock (StockTable)."""

    def __init__(self, jobs: JobControl, stock: StockStore) -> None:
        self._jobs = jobs
        self._stock = stock

    def run(self, task: SagaTask) -> dict[str, Any]:
        match task.action:
            case "reserve-inventory":
                return self.reserve(task.saga)
            case "confirm-order":
                return self.confirm(task.saga)
            case "release-stock":
                return compensate(self._jobs, task.saga, RESERVE_INVENTORY, lambda: self._release(task.saga))
        raise ValueError(f"unknown inventory action {task.action!r}")

    def reserve(self, state: SagaState) -> dict[str, Any]:
        """The saga's first task, so it also starts the job (no lifecycle state of its own)."""
        job_id = state.job_id
        self._jobs.start_or_resume(job_id)
        self._jobs.record_step(job_id, RESERVE_INVENTORY, StepStatus.RUNNING)
        lines = [Line(item.sku, item.quantity) for item in state.input.items]
        self._stock.reserve(job_id, lines)
        reserved = [{"sku": line.sku, "quantity": line.quantity} for line in lines]
        self._jobs.record_step(job_id, RESERVE_INVENTORY, StepStatus.SUCCEEDED, {"reserved": reserved})
        return {"reserved": reserved}

    def confirm(self, state: SagaState) -> dict[str, Any]:
        """The saga's last task, so it also succeeds the job with the order as its result; a
        cancel that came first is JobCancelled, which runs the compensations."""
        job_id = state.job_id
        order = order_result(state)
        job = self._jobs.peek(job_id)
        if job is not None and job.status is JobStatus.SUCCEEDED:
            return order  # a retry after the success committed (its answer was lost): nothing to undo
        self._jobs.require_active(job_id)
        self._jobs.record_step(job_id, CONFIRM_ORDER, StepStatus.RUNNING)
        self._stock.confirm(job_id)
        self._jobs.record_step(job_id, CONFIRM_ORDER, StepStatus.SUCCEEDED, {"orderId": order["orderId"]})
        self._jobs.complete_or_stop(job_id, order)
        return order

    def _release(self, state: SagaState) -> dict[str, Any] | None:
        released = self._stock.release(state.job_id)
        if released is None:
            return None
        return {"released": [{"sku": line.sku, "quantity": line.quantity} for line in released]}


class PartnerSteps:
    """charge-payment and create-shipment, their compensations, and the saga's conclusion."""

    def __init__(self, jobs: JobControl, payments: PaymentClient, shipping: ShippingClient) -> None:
        self._jobs = jobs
        self._payments = payments
        self._shipping = shipping

    def run(self, task: SagaTask) -> dict[str, Any]:
        state = task.saga
        match task.action:
            case "charge-payment":
                return self.charge(state)
            case "create-shipment":
                return self.ship(state)
            case "refund-payment":
                return compensate(self._jobs, state, CHARGE_PAYMENT, lambda: self._refund(state))
            case "cancel-shipment":
                return compensate(self._jobs, state, CREATE_SHIPMENT, lambda: self._cancel_shipment(state))
            case "conclude":
                return conclude(self._jobs, state)
        raise ValueError(f"unknown partner action {task.action!r}")

    def charge(self, state: SagaState) -> dict[str, Any]:
        job_id, payment = state.job_id, state.input.payment
        self._jobs.require_active(job_id)
        self._jobs.record_step(job_id, CHARGE_PAYMENT, StepStatus.RUNNING)
        charge = self._payments.charge(job_id, payment.card_token, payment.amount, payment.currency)
        detail = {"chargeId": charge.id, "amount": payment.amount, "currency": payment.currency}
        self._jobs.record_step(job_id, CHARGE_PAYMENT, StepStatus.SUCCEEDED, detail)
        return detail

    def ship(self, state: SagaState) -> dict[str, Any]:
        job_id = state.job_id
        self._jobs.require_active(job_id)
        self._jobs.record_step(job_id, CREATE_SHIPMENT, StepStatus.RUNNING)
        shipment = self._shipping.create(
            job_id,
            state.input.shipping.model_dump(by_alias=True),
            [item.model_dump(by_alias=True) for item in state.input.items],
        )
        detail = {"shipmentId": shipment.id, "trackingNumber": shipment.tracking_number}
        self._jobs.record_step(job_id, CREATE_SHIPMENT, StepStatus.SUCCEEDED, detail)
        return detail

    def _refund(self, state: SagaState) -> dict[str, Any] | None:
        charge = self._payments.find_charge(state.job_id)
        if charge is None:
            return None
        return {"refundId": self._payments.refund(state.job_id, charge)}

    def _cancel_shipment(self, state: SagaState) -> dict[str, Any] | None:
        shipment: Shipment | None = self._shipping.find(state.job_id)
        if shipment is None:
            return None
        if shipment.status != "cancelled":
            self._shipping.cancel(shipment)
        return {"cancelledShipmentId": shipment.id}


def order_result(state: SagaState) -> dict[str, Any]:
    charge, shipment = state.charge or {}, state.shipment or {}
    return {
        "orderId": "ord_" + state.job_id.removeprefix("job_"),
        "status": "confirmed",
        "items": [item.model_dump(by_alias=True) for item in state.input.items],
        "chargeId": charge.get("chargeId"),
        "amount": state.input.payment.amount,
        "currency": state.input.payment.currency,
        "shipmentId": shipment.get("shipmentId"),
        "trackingNumber": shipment.get("trackingNumber"),
    }


# --- compensations ----------------------------------------------------------------------


def _step(job: Job | None, name: str) -> Step | None:
    return next((s for s in job.progress.steps if s.name == name), None) if job else None


def _is_cancel(job: Job | None, state: SagaState) -> bool:
    """Whether this rollback ends the job `cancelled`: a step saw the cancel, or the run it
    recovers was cut off while the job was being cancelled."""
    cancelling = job is not None and job.status is JobStatus.CANCELLING
    return state.cancel is not None or (state.recovery is not None and cancelling)


def compensate(
    jobs: JobControl, state: SagaState, step_name: str, undo: Callable[[], dict[str, Any] | None]
) -> dict[str, Any]:
    """Undo `step_name` if it started; no require_active: compensations run on a cancelled job.

    A step that succeeded (or, on cancel, was cut short after acting) becomes `compensated`;
    the step that failed stays as it is, and the fail action marks it `failed`. Nothing is
    undone for a job that succeeded: that is a twin run (Express runs at least once) whose
    first task found the job ended.
    """
    job = jobs.peek(state.job_id)
    step = _step(job, step_name)
    succeeded = job is not None and job.status is JobStatus.SUCCEEDED
    if succeeded or step is None or step.status not in {StepStatus.SUCCEEDED, StepStatus.RUNNING}:
        return {"step": step_name, "undone": False}
    undone = undo()
    if undone is None:
        return {"step": step_name, "undone": False}
    if step.status is StepStatus.SUCCEEDED or _is_cancel(job, state):
        # JobCancelled here means the job already ended (reconciled); the undo itself happened.
        with contextlib.suppress(JobCancelled):
            jobs.record_step(
                state.job_id, step_name, StepStatus.COMPENSATED, {**(step.detail or {}), "compensation": undone}
            )
    return {"step": step_name, "undone": True, **undone}


# --- conclusion -------------------------------------------------------------------------


@dataclass(frozen=True)
class CompensationFailure:
    compensation: str
    step: str
    message: str


def describe_rollback(trigger: str, failures: list[CompensationFailure], compensated: list[str]) -> str:
    """What a failed rollback tells the client: what could not be undone, and what was."""
    undone_badly = "; ".join(
        f"{f.compensation} (undoing {f.step}) failed after retries, so {f.step} was NOT undone: {f.message.rstrip('.')}"
        for f in failures
    )
    done = ", ".join(compensated) if compensated else "nothing"
    return f"{trigger}. Rolling back did not complete: {undone_badly}. Undone: {done}."


def conclude(jobs: JobControl, state: SagaState) -> dict[str, Any]:
    """After the compensations: `cancelled`, or `failed` with the original or a rollback error."""
    failures = [
        CompensationFailure(compensation, step, readable_cause(error.cause) if error.cause else error.error)
        for compensation, step, _key in COMPENSATIONS
        if (error := state.compensation_error(compensation)) is not None
    ]
    job = jobs.peek(state.job_id)
    trigger_error = None if _is_cancel(job, state) else state.error or state.recovery
    if not failures:
        if trigger_error is not None:
            return {"outcome": "failed", "error": trigger_error.model_dump(by_alias=True)}
        return {"outcome": "cancelled"}
    for failure in failures:
        step = _step(job, failure.step)
        if step is not None and step.status is StepStatus.SUCCEEDED:
            detail = {**(step.detail or {}), "compensation": {"failed": failure.message}}
            with contextlib.suppress(JobCancelled):
                jobs.record_step(state.job_id, failure.step, StepStatus.SUCCEEDED, detail)
    compensated = [s.name for s in (job.progress.steps if job else []) if s.status is StepStatus.COMPENSATED]
    if trigger_error is not None:
        reason = readable_cause(trigger_error.cause).rstrip(".")
        trigger = f"{_failing_step(job) or 'A step'} failed ({trigger_error.error}: {reason})"
    else:
        trigger = "The order was cancelled by its owner"
    cause = describe_rollback(trigger, failures, compensated)
    return {"outcome": "failed", "error": {"Error": COMPENSATION_FAILED, "Cause": cause}}


def _failing_step(job: Job | None) -> str | None:
    return job.running_step() if job else None
