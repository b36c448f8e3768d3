"""The rental system's documents, as it PUTs them: the whole current state after any change.

These models are the ingest API's request bodies and the snapshots the reconciler reads, so
their validation is the API's validation: a bad field is a 422 naming it, and nothing is stored.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from rentsync.domain.money import Money, NonNegativeMoney, Percent, Quantity
from rentsync.domain.values import Flag, IsoDate, SourceId, Version

__all__ = ["SourceId"]  # re-exported: the kinds' models import it from here

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class DocumentType(enum.StrEnum):
    """Values equal the strings stored in the database and used in URLs."""

    CUSTOMER = "customer"
    PRODUCT = "product"
    ORDER = "order"
    PAYMENT = "payment"
    REFUND = "refund"
    """A refund of a payment: part of the payment's document (`<payment id>/<refund id>`)."""
    PAYMENT_VOID = "payment_void"
    """The void of a payment: part of the payment's document (same id), retried on its own."""
    VENDOR = "vendor"
    VENDOR_BILL = "vendor_bill"
    VENDOR_PAYMENT = "vendor_payment"
    PURCHASE_ORDER = "purchase_order"


class Document(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    version: Version | None = Field(
        default=None,
        description="Optional monotonic version; a PUT older than the stored one is ignored.",
    )


class Address(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line1: str | None = Field(default=None, max_length=500)
    line2: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=255)
    region: str | None = Field(default=None, max_length=255, description="State or province.")
    postal_code: str | None = Field(default=None, max_length=30)
    country: str | None = Field(default=None, max_length=255)


class Customer(Document):
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^:]*$"),
    ] = Field(description="Shown in QuickBooks as the customer's display name (no colons).")
    company_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=100, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=30)
    billing_address: Address | None = None


class ProductKind(enum.StrEnum):
    RENTAL = "rental"
    SALE = "sale"
    SERVICE = "service"
    FEE = "fee"


class Product(Document):
    name: Name
    kind: ProductKind
    description: str | None = Field(default=None, max_length=4000)
    sku: str | None = Field(default=None, max_length=100)
    rate: NonNegativeMoney | None = Field(default=None, description="Default price.")
    taxable: Flag = True
    quantity_on_hand: Quantity | None = Field(
        default=None, ge=0, description="Sale products: units in stock when tracking starts."
    )
    cost: NonNegativeMoney | None = Field(default=None, description="Sale products: unit cost.")
    tracking_start: IsoDate | None = Field(
        default=None, description="Sale products: the date inventory tracking starts."
    )

    @model_validator(mode="after")
    def sale_products_carry_inventory(self) -> Self:
        if self.kind is ProductKind.SALE:
            missing = [
                name
                for name in ("quantity_on_hand", "tracking_start")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"a sale product needs {' and '.join(missing)}")
        return self


class OrderKind(enum.StrEnum):
    ORDER = "order"
    QUOTE = "quote"


class ChangeReason(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    INVOICE_SAVED = "invoice_saved"
    AUTO_EXTENDED = "auto_extended"
    MANUAL_UPDATE = "manual_update"


class RentalPeriod(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: IsoDate
    end: IsoDate

    @model_validator(mode="after")
    def ends_after_start(self) -> Self:
        if self.end < self.start:
            raise ValueError("a rental period ends on or after its start")
        return self


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: SourceId
    description: str | None = Field(default=None, max_length=4000)
    quantity: Quantity = Field(gt=0)
    rate: NonNegativeMoney
    amount: NonNegativeMoney = Field(
        description="quantity × rate, as the rental system computed it."
    )
    taxable: Flag = True
    rental_period: RentalPeriod | None = None

    @model_validator(mode="after")
    def amount_is_quantity_times_rate(self) -> Self:
        expected = (self.quantity * self.rate).quantize(Decimal("0.01"))
        if abs(expected - self.amount) > Decimal("0.01"):
            raise ValueError(f"amount {self.amount} is not quantity × rate ({expected})")
        return self


class Discount(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str | None = Field(default=None, max_length=4000)
    amount: NonNegativeMoney | None = None
    percent: Percent | None = None

    @model_validator(mode="after")
    def amount_or_percent(self) -> Self:
        if (self.amount is None) == (self.percent is None):
            raise ValueError("a discount has either an amount or a percent")
        return self


class OrderTotals(BaseModel):
    """What the rental system computed; QBO's figures are checked against these (B2)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subtotal: NonNegativeMoney
    discount: NonNegativeMoney = Decimal("0.00")
    tax: NonNegativeMoney = Decimal("0.00")
    total: Money


class Order(Document):
    kind: OrderKind = OrderKind.ORDER
    customer_id: SourceId
    invoice_number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=21)
    ] = Field(description="Becomes the QBO invoice's DocNumber (at most 21 characters).")
    invoice_date: IsoDate
    due_date: IsoDate | None = None
    rental_period: RentalPeriod | None = None
    lines: list[OrderLine] = Field(min_length=1, max_length=500)
    discounts: list[Discount] = Field(default_factory=list, max_length=20)
    fees: list[OrderLine] = Field(
        default_factory=list, max_length=50, description="Delivery and other fees (fee products)."
    )
    tax_rate_id: str | None = Field(
        default=None, max_length=64, description="A tax rate from GET /api/v1/tax-rates."
    )
    totals: OrderTotals
    no_quickbooks: Flag = Field(
        default=False, description="Never send this order, its invoice or its payments to QBO."
    )
    has_payment: Flag = Field(
        default=False, description="At least one payment was collected (sync mode 'with payment')."
    )
    reason: ChangeReason = ChangeReason.UPDATED

    @model_validator(mode="after")
    def totals_add_up(self) -> Self:
        subtotal = sum((line.amount for line in (*self.lines, *self.fees)), Decimal("0.00"))
        if subtotal != self.totals.subtotal:
            raise ValueError(
                f"totals.subtotal {self.totals.subtotal} is not the sum of the lines and fees "
                f"({subtotal})"
            )
        if self.totals.discount > self.totals.subtotal:
            raise ValueError(
                f"totals.discount {self.totals.discount} is larger than the order (subtotal "
                f"{self.totals.subtotal}): QuickBooks cannot hold an invoice below zero; give "
                "the excess to the customer as a credit instead"
            )
        expected_total = self.totals.subtotal - self.totals.discount + self.totals.tax
        if expected_total != self.totals.total:
            raise ValueError(
                f"totals.total {self.totals.total} is not subtotal - discount + tax "
                f"({expected_total})"
            )
        if self.due_date is not None and self.due_date < self.invoice_date:
            raise ValueError("due_date is before invoice_date")
        return self

    def product_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for line in (*self.lines, *self.fees):
            seen.setdefault(line.product_id, None)
        return list(seen)
