"""Builds the order saga's task handlers from the function's settings."""

from __future__ import annotations

from jobgate import aws, wiring
from jobgate.orders.providers import PaymentClient, ShippingClient
from jobgate.orders.saga import InventorySteps, PartnerSteps
from jobgate.orders.settings import OrderSettings
from jobgate.orders.stock import StockStore


def inventory_steps(settings: OrderSettings | None = None) -> InventorySteps:
    settings = settings or OrderSettings.from_environment()
    return InventorySteps(wiring.job_service(), StockStore(aws.dynamodb(), settings.stock_table_name))


def partner_steps(settings: OrderSettings | None = None) -> PartnerSteps:
    settings = settings or OrderSettings.from_environment()
    timeout = settings.provider_timeout_seconds
    return PartnerSteps(
        wiring.job_service(),
        PaymentClient(settings.payment_provider_url, timeout),
        ShippingClient(settings.shipping_provider_url, timeout),
    )
