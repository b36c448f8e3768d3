"""Read-back verification (B2): does the invoice QBO answered with match the rental system?

Compared with the order's totals, from the create/update response (no extra read):
tax (`TxnTaxDetail.TotalTax`), total (`TotalAmt`) and the open balance (`Balance`). Tax comes
first: a tax difference explains a total difference, and the seed's remedy for it is specific.

Balance: QBO lowers it by the payments applied to the invoice in QBO, which the rental system's
totals do not show. The caller passes what it knows: `applied_payments` = the sum of payments
rentsync has applied to this invoice in QBO; then Balance must be TotalAmt minus exactly that.
When it is unknown (None), only 0 <= Balance <= TotalAmt is required. A difference means
someone applied or removed a payment in QuickBooks behind our back.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from rentsync.domain.documents import Order
from rentsync.domain.money import round_cents

ZERO = Decimal("0.00")


class Figure(enum.StrEnum):
    """Which figure differs; the value is the code stored with the failure."""

    TAX = "invoice_tax_mismatch"
    TOTAL = "invoice_total_mismatch"
    BALANCE = "invoice_balance_mismatch"
    NEGATIVE_TOTAL = "invoice_total_negative"

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @property
    def remedy(self) -> str:
        return _REMEDIES[self]


_MESSAGES = {
    Figure.TAX: "invoice tax amount mismatch",
    Figure.TOTAL: "invoice total mismatch",
    Figure.BALANCE: "invoice balance mismatch",
    Figure.NEGATIVE_TOTAL: "negative invoice total",
}
_REMEDIES = {
    Figure.TAX: (
        "The total tax on the invoice in QuickBooks does not match the rental system (often "
        "missing or different tax rates). Ensure your QuickBooks company has the right tax "
        "rates and run Sync with QuickBooks under Tax Rates. Fix the invoice or tax setup in "
        "QuickBooks if needed, then Resync."
    ),
    Figure.TOTAL: (
        "The invoice total in QuickBooks does not match the rental system. Check the order's "
        "lines, discounts and tax rate, and the invoice and tax setup in QuickBooks; fix the "
        "cause, then Resync."
    ),
    Figure.BALANCE: (
        "The invoice's open balance in QuickBooks does not match the payments sent from the "
        "rental system: a payment may have been applied to it or removed from it in "
        "QuickBooks. Correct the payments in QuickBooks, then Resync."
    ),
    Figure.NEGATIVE_TOTAL: (
        "The invoice's total in QuickBooks is below zero: the order's discounts are larger than "
        "its lines. An invoice cannot be negative; correct the discounts in the rental system "
        "(give the excess to the customer as a credit), then Update."
    ),
}


@dataclass(frozen=True, kw_only=True)
class Mismatch:
    figure: Figure
    expected: Decimal
    """The rental system's figure."""
    actual: Decimal
    """QuickBooks' figure."""

    @property
    def code(self) -> str:
        return self.figure.value

    @property
    def message(self) -> str:
        return self.figure.message

    @property
    def detail(self) -> str:
        return f"QuickBooks has {self.actual}, the rental system {self.expected}."

    @property
    def remedy(self) -> str:
        return self.figure.remedy


def verify_invoice(
    order: Order, qbo_invoice: Mapping[str, Any], *, applied_payments: Decimal | None = None
) -> list[Mismatch]:
    """Every difference between `order`'s totals and QBO's `Invoice` object (the entity, not
    the `{"Invoice": ...}` envelope); empty when they agree. The first is the headline."""
    tax_detail = qbo_invoice.get("TxnTaxDetail") or {}
    tax = _amount(tax_detail.get("TotalTax"), "TxnTaxDetail.TotalTax")
    total = _amount(qbo_invoice.get("TotalAmt"), "TotalAmt")
    found: list[Mismatch] = []
    if tax != order.totals.tax:
        found.append(Mismatch(figure=Figure.TAX, expected=order.totals.tax, actual=tax))
    if total != order.totals.total:
        found.append(Mismatch(figure=Figure.TOTAL, expected=order.totals.total, actual=total))
    if total < ZERO:
        # Its balance is negative too: the cause is the total, not a payment.
        found.append(Mismatch(figure=Figure.NEGATIVE_TOTAL, expected=ZERO, actual=total))
        return found
    balance_mismatch = _check_balance(qbo_invoice, total, applied_payments)
    if balance_mismatch is not None:
        found.append(balance_mismatch)
    return found


def _check_balance(
    qbo_invoice: Mapping[str, Any], total: Decimal, applied_payments: Decimal | None
) -> Mismatch | None:
    if "Balance" not in qbo_invoice:
        return None  # not in this response (e.g. a sparse read); nothing to compare
    balance = _amount(qbo_invoice["Balance"], "Balance")
    if applied_payments is not None:
        expected = round_cents(total - applied_payments)
        if balance != expected:
            return Mismatch(figure=Figure.BALANCE, expected=expected, actual=balance)
        return None
    if balance < ZERO:
        return Mismatch(figure=Figure.BALANCE, expected=ZERO, actual=balance)
    if balance > total:
        return Mismatch(figure=Figure.BALANCE, expected=total, actual=balance)
    return None


def _amount(value: Any, name: str) -> Decimal:
    """QBO omits zero-valued fields at times; a float (from a careless JSON parse) is read
    through its shortest repr, which is exact for a two-place amount."""
    if value is None:
        return ZERO
    if isinstance(value, bool):
        raise ValueError(f"{name} is not an amount: {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"{name} is not an amount: {value!r}") from exc
    return round_cents(number)


def verify_balance(expected: Decimal, qbo_invoice: Mapping[str, Any]) -> Mismatch | None:
    """After a payment, refund or void: the invoice's open balance in QBO against the rental
    system's balance due (`domain.payments.balance_due`)."""
    balance = _amount(qbo_invoice.get("Balance"), "Balance")
    if balance != expected:
        return Mismatch(figure=Figure.BALANCE, expected=expected, actual=balance)
    return None


def verify_balance_range(qbo_invoice: Mapping[str, Any]) -> Mismatch | None:
    """What holds whatever payments are applied: 0 <= Balance <= TotalAmt."""
    total = _amount(qbo_invoice.get("TotalAmt"), "TotalAmt")
    return _check_balance(qbo_invoice, total, None)


@dataclass(frozen=True, kw_only=True)
class FigureMismatch:
    """A purchase-side document's figure that differs in QBO (B2): a bill's TotalAmt or
    Balance, a bill payment's TotalAmt, a purchase order's TotalAmt or POStatus."""

    document: str
    """e.g. "bill"; the code is `<document>_<figure>_mismatch`."""
    figure: str
    expected: Decimal | str
    actual: Decimal | str

    @property
    def code(self) -> str:
        return f"{self.document}_{self.figure.lower()}_mismatch"

    @property
    def message(self) -> str:
        return f"{self.document.replace('_', ' ')} {self.figure} mismatch"

    @property
    def detail(self) -> str:
        return f"QuickBooks has {self.figure} {self.actual}, the rental system {self.expected}."


def compare_figures(
    document: str, expected: Mapping[str, Decimal | str], qbo_entity: Mapping[str, Any]
) -> FigureMismatch | None:
    """The first of `expected`'s QBO fields (amounts as Decimal, others as text) that QBO's
    entity holds differently."""
    for figure, wanted in expected.items():
        got: Decimal | str = (
            _amount(qbo_entity.get(figure), figure)
            if isinstance(wanted, Decimal)
            else str(qbo_entity.get(figure) or "")
        )
        if got != wanted:
            return FigureMismatch(document=document, figure=figure, expected=wanted, actual=got)
    return None


def within_total(qbo_entity: Mapping[str, Any]) -> bool:
    """What holds whatever payments are applied: 0 <= Balance <= TotalAmt."""
    total = _amount(qbo_entity.get("TotalAmt"), "TotalAmt")
    return _check_balance(qbo_entity, total, None) is None
