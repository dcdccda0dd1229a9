"""What an order is (the `order-fulfillment` job type's input) and the names of its steps."""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from jobgate.lazy import LazyModel

RESERVE_INVENTORY = "reserve-inventory"
CHARGE_PAYMENT = "charge-payment"
CREATE_SHIPMENT = "create-shipment"
CONFIRM_ORDER = "confirm-order"
ORDER_STEPS = (RESERVE_INVENTORY, CHARGE_PAYMENT, CREATE_SHIPMENT, CONFIRM_ORDER)


class _Strict(LazyModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OrderItem(_Strict):
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    quantity: int = Field(ge=1, le=1000)


class Payment(_Strict):
    card_token: str = Field(alias="cardToken", min_length=1, max_length=200)
    amount: int = Field(gt=0, le=100_000_000, description="In minor units (cents): 2500 is 25.00.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, such as EUR.")


class Shipping(_Strict):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=500)
    postcode: str = Field(min_length=1, max_length=16)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code, such as FR.")


class OrderInput(_Strict):
    # DynamoDB transactions hold up to 100 actions; one is the reservation record.
    items: list[OrderItem] = Field(min_length=1, max_length=50)
    payment: Payment
    shipping: Shipping

    @model_validator(mode="after")
    def _one_line_per_sku(self) -> Self:
        skus = [item.sku for item in self.items]
        duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
        if duplicates:
            raise ValueError(f"each sku may appear once; merge the quantities of: {', '.join(duplicates)}")
        return self
