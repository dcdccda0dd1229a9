"""HTTP clients of the payment and shipping providers (base URLs are template parameters).

Every write carries an `Idempotency-Key` derived from the job id, so a retried request
(a Step Functions Retry, a Lambda retry) never charges or ships twice: the provider answers
the first outcome again. Compensations find what to undo by that same key, so they also
undo a charge whose answer never reached us.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from jobgate.jobtypes.order_fulfillment.errors import (
    CardDeclined,
    PaymentProviderUnavailable,
    PaymentRejected,
    RefundFailed,
    ShipmentCancellationFailed,
    ShipmentRejected,
    ShippingProviderUnavailable,
    UnknownPostcode,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"


def charge_key(job_id: str) -> str:
    return f"{job_id}:charge"


def refund_key(job_id: str) -> str:
    return f"{job_id}:refund"


def shipment_key(job_id: str) -> str:
    return f"{job_id}:shipment"


@dataclass(frozen=True)
class Charge:
    id: str
    status: str


@dataclass(frozen=True)
class Shipment:
    id: str
    status: str
    tracking_number: str | None = None


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:200]
    return str(body)[:200]


class _ProviderClient:
    """One provider's base URL, timeout and session, and the failures every call shares."""

    provider = "provider"

    def __init__(self, base_url: str, timeout: float, session: requests.Session | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._session = session or requests.Session()

    def _call(self, method: str, path: str, unreachable: type[Exception], **kwargs: Any) -> requests.Response:
        """The response, or `unreachable` when the provider could not be reached at all."""
        try:
            return self._session.request(method, f"{self._base}{path}", timeout=self._timeout, **kwargs)
        except requests.RequestException as error:
            raise unreachable(f"The {self.provider} could not be reached: {error}") from None

    def _create(
        self,
        path: str,
        key: str,
        body: dict[str, Any],
        *,
        noun: str,
        unavailable: type[Exception],
        rejected: type[Exception],
        refusal: tuple[int, Callable[[str], Exception]],
    ) -> dict[str, Any]:
        """POST a write the provider makes once per idempotency key, and return its answer.
        `refusal`: the status of the one functional failure this write can meet, and its error."""
        response = self._call("POST", path, unavailable, json=body, headers={IDEMPOTENCY_HEADER: key})
        refusal_status, refused = refusal
        if response.status_code == refusal_status:
            raise refused(_message(response))
        if response.status_code >= 500 or response.status_code == 429:
            raise unavailable(f"The {self.provider} answered {response.status_code}.")
        if not response.ok:
            raise rejected(f"The {self.provider} refused the {noun} ({response.status_code}): {_message(response)}")
        answer: dict[str, Any] = response.json()
        return answer

    def _find_by_key(self, path: str, key: str, noun: str, failure: type[Exception]) -> dict[str, Any] | None:
        """What this job's write with idempotency key `key` created, if anything."""
        response = self._call("GET", path, failure, params={"idempotencyKey": key})
        if not response.ok:
            raise failure(f"Looking up the {noun} failed: the {self.provider} answered {response.status_code}.")
        found: list[dict[str, Any]] = response.json().get("items", [])
        return found[0] if found else None


class PaymentClient(_ProviderClient):
    provider = "payment provider"

    def charge(self, job_id: str, card_token: str, amount: int, currency: str) -> Charge:
        body = self._create(
            "/charges",
            charge_key(job_id),
            {"cardToken": card_token, "amount": amount, "currency": currency, "reference": job_id},
            noun="charge",
            unavailable=PaymentProviderUnavailable,
            rejected=PaymentRejected,
            refusal=(402, lambda message: CardDeclined(f"The card was declined: {message}")),
        )
        return Charge(id=str(body["id"]), status=str(body.get("status", "captured")))

    def find_charge(self, job_id: str) -> Charge | None:
        """The charge this job made, if any (found by its idempotency key)."""
        found = self._find_by_key("/charges", charge_key(job_id), "charge", RefundFailed)
        return Charge(id=str(found["id"]), status=str(found["status"])) if found else None

    def refund(self, job_id: str, charge: Charge) -> str:
        """Refund the whole charge; the refund's id."""
        response = self._call(
            "POST",
            f"/charges/{charge.id}/refunds",
            RefundFailed,
            json={"reason": "order not fulfilled"},
            headers={IDEMPOTENCY_HEADER: refund_key(job_id)},
        )
        if not response.ok:
            raise RefundFailed(
                f"The refund of charge {charge.id} failed: the payment provider answered {response.status_code}"
                f" ({_message(response)})."
            )
        return str(response.json()["id"])


class ShippingClient(_ProviderClient):
    provider = "shipping provider"

    def create(self, job_id: str, recipient: dict[str, Any], parcels: list[dict[str, Any]]) -> Shipment:
        body = self._create(
            "/shipments",
            shipment_key(job_id),
            {"recipient": recipient, "items": parcels, "reference": job_id},
            noun="shipment",
            unavailable=ShippingProviderUnavailable,
            rejected=ShipmentRejected,
            refusal=(422, lambda message: UnknownPostcode(f"The shipping provider cannot deliver there: {message}")),
        )
        return Shipment(
            id=str(body["id"]), status=str(body.get("status", "created")), tracking_number=body.get("trackingNumber")
        )

    def find(self, job_id: str) -> Shipment | None:
        found = self._find_by_key("/shipments", shipment_key(job_id), "shipment", ShipmentCancellationFailed)
        return Shipment(id=str(found["id"]), status=str(found["status"])) if found else None

    def cancel(self, shipment: Shipment) -> None:
        response = self._call("POST", f"/shipments/{shipment.id}/cancel", ShipmentCancellationFailed)
        if not response.ok:
            raise ShipmentCancellationFailed(
                f"Cancelling shipment {shipment.id} failed: the shipping provider answered {response.status_code}"
                f" ({_message(response)})."
            )
