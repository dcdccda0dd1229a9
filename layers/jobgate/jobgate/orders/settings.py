"""Settings of the order functions, read through jobgate.config's environment seam."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobgate.config import current_environment


class OrderSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    stock_table_name: str = Field(default="", alias="STOCK_TABLE_NAME")
    payment_provider_url: str = Field(default="", alias="PAYMENT_PROVIDER_URL")
    shipping_provider_url: str = Field(default="", alias="SHIPPING_PROVIDER_URL")
    # Per HTTP request to a provider; the Lambda timeout bounds the whole step.
    provider_timeout_seconds: float = Field(default=10, alias="PROVIDER_TIMEOUT_SECONDS")

    @classmethod
    def from_environment(cls) -> OrderSettings:
        return cls.model_validate(dict(current_environment()))
