"""The vendor side, as the rental system PUTs it: vendors, their bills, the payments of those
bills and purchase orders (subrentals among them). Each is the whole current state after any
change; validation here is the API's (a bad field is a 422 naming it, nothing stored).

The rental system's figures QBO is checked against (B2): a bill's total is the sum of its
lines and its balance that total less the vendor payments (not voided) applied to it; a vendor
payment's amount is the sum of what it applies to its bills; a purchase order's total is the
sum of its lines.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from rentsync.domain.documents import Address, Document, SourceId
from rentsync.domain.money import Money, NonNegativeMoney, Quantity
from rentsync.domain.values import Flag, IsoDate

PositiveMoney = Annotated[Money, Field(gt=0)]
DocNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=21)]
"""QBO keeps at most 21 characters of a transaction's number."""
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Vendor(Document):
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^:]*$"),
    ] = Field(description="Shown in QuickBooks as the vendor's display name (no colons).")
    company_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=100, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=30)
    address: Address | None = None
    tax_id: str | None = Field(
        default=None,
        max_length=20,
        repr=False,
        description="The vendor's tax id (SSN or EIN) for 1099s; never logged.",
    )
    is_1099: Flag = Field(default=False, description="Track payments for 1099 (QBO Vendor1099).")


class BillLine(BaseModel):
    """One line: a product (QBO item) or an expense category (a mapped account), not both;
    neither: the mapped expense account."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    description: str | None = Field(default=None, max_length=4000)
    amount: PositiveMoney
    product_id: SourceId | None = None
    category: Category | None = Field(
        default=None, description="An expense category mapped to an account in the settings."
    )
    quantity: Quantity | None = Field(default=None, gt=0, description="With a product.")

    @model_validator(mode="after")
    def product_or_category(self) -> Self:
        if self.product_id is not None and self.category is not None:
            raise ValueError("a line has a product or an expense category, not both")
        if self.quantity is not None and self.product_id is None:
            raise ValueError("a quantity needs a product")
        return self


class VendorBill(Document):
    vendor_id: SourceId
    order_id: SourceId | None = Field(
        default=None, description="The rental order that created this bill (e.g. a subrental)."
    )
    number: DocNumber = Field(description="The vendor's bill number (QBO DocNumber).")
    date: IsoDate
    due_date: IsoDate | None = None
    lines: list[BillLine] = Field(min_length=1, max_length=500)
    purchase_order_id: SourceId | None = Field(
        default=None, description="The purchase order this bill bills (linked in QBO)."
    )

    @model_validator(mode="after")
    def dates_in_order(self) -> Self:
        if self.due_date is not None and self.due_date < self.date:
            raise ValueError("due_date is before date")
        return self

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    def product_ids(self) -> list[str]:
        return list(dict.fromkeys(line.product_id for line in self.lines if line.product_id))


class VendorPaymentMethod(enum.StrEnum):
    CHECK = "check"
    CREDIT_CARD = "credit_card"
    ACH = "ach"
    CASH = "cash"


class BillApplication(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    bill_id: SourceId
    amount: PositiveMoney


class VendorPayment(Document):
    vendor_id: SourceId
    bills: list[BillApplication] = Field(min_length=1, max_length=100)
    date: IsoDate
    method: VendorPaymentMethod
    reference_number: DocNumber | None = Field(
        default=None, description="Check number or transfer reference (QBO DocNumber)."
    )
    paid_from_account_id: str | None = Field(
        default=None,
        max_length=32,
        description="A QBO Bank or Credit Card account; default: the mapped vendor_payment one.",
    )
    voided: Flag = False

    @model_validator(mode="after")
    def bills_once(self) -> Self:
        ids = [application.bill_id for application in self.bills]
        if len(set(ids)) != len(ids):
            raise ValueError("each bill appears once in a payment")
        return self

    @property
    def amount(self) -> Decimal:
        return sum((application.amount for application in self.bills), Decimal("0.00"))

    def applied_to(self, bill_id: str) -> Decimal:
        """What this payment takes off the bill's balance (nothing once voided)."""
        if self.voided:
            return Decimal("0.00")
        return sum(
            (a.amount for a in self.bills if a.bill_id == bill_id),
            Decimal("0.00"),
        )


def bill_balance(bill: VendorBill, bill_id: str, payments: Iterable[VendorPayment]) -> Decimal:
    """A bill's balance in the rental system after these (live) payments."""
    return bill.total - sum((p.applied_to(bill_id) for p in payments), Decimal("0.00"))


class PurchaseOrderKind(enum.StrEnum):
    PURCHASE = "purchase"
    SUBRENTAL = "subrental"
    """Equipment rented from another rental company to fulfil an order."""


class PurchaseOrderStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class PurchaseOrderLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    product_id: SourceId | None = None
    description: str | None = Field(default=None, max_length=4000)
    quantity: Quantity = Field(gt=0)
    rate: NonNegativeMoney

    @model_validator(mode="after")
    def says_what(self) -> Self:
        if self.product_id is None and not self.description:
            raise ValueError("a line has a product or a description")
        return self

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.rate).quantize(Decimal("0.01"))


class PurchaseOrder(Document):
    number: DocNumber = Field(description="The purchase order's number (QBO DocNumber).")
    kind: PurchaseOrderKind = PurchaseOrderKind.PURCHASE
    vendor_id: SourceId
    status: PurchaseOrderStatus
    date: IsoDate
    lines: list[PurchaseOrderLine] = Field(min_length=1, max_length=500)
    order_id: SourceId | None = Field(
        default=None, description="The rental order a subrental serves."
    )
    pick_up: IsoDate | None = Field(default=None, description="A subrental: when it is picked up.")
    return_date: IsoDate | None = Field(
        default=None, description="A subrental: when it goes back to the vendor."
    )
    ship_to: Address | None = None
    memo: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def subrental_dates(self) -> Self:
        if self.kind is PurchaseOrderKind.SUBRENTAL and (
            self.pick_up is None or self.return_date is None
        ):
            raise ValueError("a subrental needs pick_up and return_date")
        if self.pick_up and self.return_date and self.return_date < self.pick_up:
            raise ValueError("return_date is before pick_up")
        return self

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    def product_ids(self) -> list[str]:
        return list(dict.fromkeys(line.product_id for line in self.lines if line.product_id))
