"""Settings of the order-fulfillment functions."""

from __future__ import annotations

from pydantic import Field

from jobgate.jobtypes.settings import JobTypeSettings


class OrderSettings(JobTypeSettings):
    stock_table_name: str = Field(default="", alias="STOCK_TABLE_NAME")
    payment_provider_url: str = Field(default="", alias="PAYMENT_PROVIDER_URL")
    shipping_provider_url: str = Field(default="", alias="SHIPPING_PROVIDER_URL")
    # Per HTTP request to a provider; the Lambda timeout bounds the whole step.
    provider_timeout_seconds: float = Field(default=10, alias="PROVIDER_TIMEOUT_SECONDS")
