"""Errors of the order saga. Each class name is the Step Functions error name its Retry and
Catch match on (statemachines/order-fulfillment.asl.json), so renaming one is a contract change."""

from __future__ import annotations


class OrderStepFailed(Exception):
    """Base of the saga's own errors; the message is what the job's `error.detail` shows."""


# --- functional failures: retrying cannot help, the saga compensates at once ---------------


class OutOfStock(OrderStepFailed):
    pass


class CardDeclined(OrderStepFailed):
    pass


class PaymentRejected(OrderStepFailed):
    """The payment provider refused the request for another reason (4xx)."""


class UnknownPostcode(OrderStepFailed):
    pass


class ShipmentRejected(OrderStepFailed):
    """The shipping provider refused the request for another reason (4xx)."""


# --- system failures: the state machine retries these, then compensates --------------------


class StockContention(OrderStepFailed):
    """A stock transaction collided with another one on the same items."""


class PaymentProviderUnavailable(OrderStepFailed):
    pass


class ShippingProviderUnavailable(OrderStepFailed):
    pass


# --- compensations that did not work (retried by the state machine, then reported) ---------


class CompensationFailed(OrderStepFailed):
    pass


class RefundFailed(CompensationFailed):
    pass


class ShipmentCancellationFailed(CompensationFailed):
    pass


class StockReleaseFailed(CompensationFailed):
    pass
