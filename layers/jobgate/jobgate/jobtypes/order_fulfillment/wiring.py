"""Builds the order saga's task handlers from the function's settings."""

from __future__ import annotations

from jobgate import aws, wiring
from jobgate.jobtypes.order_fulfillment.settings import OrderSettings
from jobgate.jobtypes.order_fulfillment.store import StockStore
from jobgate.jobtypes.order_fulfillment.workflow import InventorySteps, PartnerSteps


def inventory_steps(settings: OrderSettings | None = None) -> InventorySteps:
    settings = settings or OrderSettings.from_environment()
    return InventorySteps(wiring.job_service(), StockStore(aws.dynamodb(), settings.stock_table_name))


def partner_steps(settings: OrderSettings | None = None) -> PartnerSteps:
    # Imported here: the providers' clients bring requests (~50 ms of a cold start), which
    # only the function that calls the providers needs.
    from jobgate.jobtypes.order_fulfillment.providers import PaymentClient, ShippingClient

    settings = settings or OrderSettings.from_environment()
    timeout = settings.provider_timeout_seconds
    return PartnerSteps(
        wiring.job_service(),
        PaymentClient(settings.payment_provider_url, timeout),
        ShippingClient(settings.shipping_provider_url, timeout),
    )
