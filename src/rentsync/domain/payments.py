"""Customer payments, as the rental system PUTs them: the whole current state after any change
(collected or credit applied, its refunds, whether it was voided).

What the rental system's figures are, for the read-back (B2) and the tests:
- an order's balance due = its total minus every live payment that is not voided (collected or
  credit applied); a refund gives money back without reopening the balance (it reverses
  income, see docs/qbo-mapping.md);
- money received into the deposit account = collected payments not voided, minus their refunds.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from rentsync.domain.documents import Document, SourceId
from rentsync.domain.money import Money
from rentsync.domain.values import Flag, IsoDate

PositiveMoney = Annotated[Money, Field(gt=0)]


class PaymentMethod(enum.StrEnum):
    CARD = "card"
    CASH = "cash"
    CHECK = "check"
    ACH = "ach"
    OTHER = "other"


class PaymentKind(enum.StrEnum):
    PAYMENT = "payment"
    """Money collected from the customer."""
    CREDIT_APPLIED = "credit_applied"
    """The customer's existing credit (in QuickBooks: an open credit memo) applied to the order."""


ReferenceNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=21)
]


class Refund(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id: SourceId
    amount: PositiveMoney
    date: IsoDate
    method: PaymentMethod
    reason: str | None = Field(default=None, max_length=1000)


class Payment(Document):
    order_id: SourceId = Field(description="The order (or quote) this payment is for.")
    kind: PaymentKind = PaymentKind.PAYMENT
    amount: PositiveMoney
    date: IsoDate
    method: PaymentMethod | None = Field(
        default=None, description="How it was paid (required for a collected payment)."
    )
    reference_number: ReferenceNumber | None = Field(
        default=None, description="Check number, card authorisation, ... (QBO PaymentRefNum)."
    )
    refunds: list[Refund] = Field(default_factory=list, max_length=50)
    voided: Flag = False

    @model_validator(mode="after")
    def consistent(self) -> Self:
        if self.kind is PaymentKind.PAYMENT and self.method is None:
            raise ValueError("a collected payment needs its method")
        if self.kind is PaymentKind.CREDIT_APPLIED and self.refunds:
            raise ValueError("credit applied from the customer's balance cannot be refunded")
        ids = [refund.id for refund in self.refunds]
        if len(set(ids)) != len(ids):
            raise ValueError("refund ids must be unique within a payment")
        refunded = sum((refund.amount for refund in self.refunds), Decimal("0.00"))
        if refunded > self.amount:
            raise ValueError(f"the refunds ({refunded}) exceed the payment ({self.amount})")
        early = [refund.id for refund in self.refunds if refund.date < self.date]
        if early:
            raise ValueError(f"refund {early[0]!r} is dated before the payment")
        return self

    @property
    def applied(self) -> Decimal:
        """What this payment takes off its order's balance due."""
        return Decimal("0.00") if self.voided else self.amount

    @property
    def refunded(self) -> Decimal:
        return sum((refund.amount for refund in self.refunds), Decimal("0.00"))


def balance_due(total: Decimal, payments: Iterable[Payment]) -> Decimal:
    """An order's balance due in the rental system, after these (live) payments."""
    return total - sum((payment.applied for payment in payments), Decimal("0.00"))


def refund_source_id(payment_id: str, refund_id: str) -> str:
    """A refund's document id: part of its payment's (the rental system's ids have no `/`)."""
    return f"{payment_id}/{refund_id}"
