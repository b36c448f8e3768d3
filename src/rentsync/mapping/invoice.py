"""Order -> QBO Invoice (reference §4 Invoice, TaxCode/AST; "Top 10" #2, #8, #10).

Choices, each made once, here:

- Tax is charged on the amount BEFORE the discount: `TAX_AFTER_DISCOUNT` is False and is sent
  as `ApplyTaxAfterDiscount`. This is QBO's default and what the recorded sandbox invoice shows
  (lines 50 + 70 taxable, discount 10, 8 % -> tax 9.60 on 120, total 119.60). The assumption
  about the rental system is that its totals are subtotal - discount + tax with tax on the
  undiscounted taxable lines; if it ever taxes the discounted amount, flip this one constant.
  Either way read-back verification (B2) reports a difference, never silence.
- Discounts become ONE transaction-level discount line carrying the rental system's
  `totals.discount`: percent-based when the order has exactly one percent discount and that
  percent of the subtotal gives exactly that amount (QBO then shows the percent); amount-based
  otherwise (amounts, several discounts, or a percent the rental system applied differently).
- Tax: lines say `TAX`/`NON` from `line.taxable` (US codes); the header names the synced tax
  rate's QBO TaxCode. On an automated-sales-tax (AST) company QBO ignores the code unless the
  total is given, so `TxnTaxDetail.TotalTax` = the order's tax is sent as the override. On a
  company without AST and an order without a tax rate, every line is `NON`, so no stale tax code
  left on the invoice by an earlier version can add tax.
- Rental period: lines carry their own period, or else the order's (fees only their own), in
  the description ("... (2025-06-01 to 2025-06-03)") and as `ServiceDate` = its start.
- `Amount` is always the rental system's line amount. When its rounding differs from
  Qty × UnitPrice, UnitPrice is the exact amount / Qty, so QBO's check (6070) holds.
- `PrivateNote` carries the order's marker, `[rentsync:c<company>:order:<order id>]`, a natural
  key that survives a renumbered DocNumber (after 6140) for duplicate look-ups (B1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from rentsync.domain.documents import DocumentType, Order, OrderLine, RentalPeriod
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.money import round_cents
from rentsync.mapping.common import Payload, delete, iso, ref, source_marker, sparse_update
from rentsync.mapping.errors import MappingError, MappingProblem

TAX_AFTER_DISCOUNT: Final = False
"""Whether the rental system computes tax on the discounted amount (see the module docstring)."""

DESCRIPTION_MAX_LENGTH = 4000
_UNIT_PRICE_PLACES = Decimal("0.0000001")
_HUNDRED = Decimal(100)


@dataclass(frozen=True, kw_only=True)
class InvoiceRefs:
    """What the engine resolved in QBO before mapping the invoice."""

    customer_id: str
    """The QBO Customer Id of the order's customer."""
    item_ids: Mapping[str, str] = field(default_factory=dict)
    """QBO Item Id per product id (the rental system's), for every line and fee."""
    tax_code_id: str | None = None
    """The QBO TaxCode Id of the order's tax rate (synced from QBO), if it has one."""
    automated_sales_tax: bool = False
    """Preferences.TaxPrefs.PartnerTaxEnabled of the QBO company."""


def invoice_marker(key: DocumentKey) -> str:
    return source_marker(key.company_id, DocumentType.ORDER.value, key.source_id)


def invoice_create(order: Order, refs: InvoiceRefs, *, key: DocumentKey) -> Payload:
    """The body of `POST /invoice` for the order identified by `key`."""
    payload: Payload = {
        "CustomerRef": ref(refs.customer_id),
        "DocNumber": order.invoice_number,
        "TxnDate": iso(order.invoice_date),
    }
    if order.due_date is not None:
        payload["DueDate"] = iso(order.due_date)
    payload["Line"] = _lines(order, refs)
    tax_detail = _tax_detail(order, refs)
    if tax_detail:
        payload["TxnTaxDetail"] = tax_detail
    payload["ApplyTaxAfterDiscount"] = TAX_AFTER_DISCOUNT
    payload["PrivateNote"] = invoice_marker(key)
    return payload


def invoice_update(
    order: Order, refs: InvoiceRefs, *, key: DocumentKey, qbo_id: str, sync_token: str
) -> Payload:
    """A sparse update with every field we own and ALL lines: QBO deletes lines left out."""
    return sparse_update(invoice_create(order, refs, key=key), qbo_id=qbo_id, sync_token=sync_token)


def _lines(order: Order, refs: InvoiceRefs) -> list[Payload]:
    taxed = refs.tax_code_id is not None or refs.automated_sales_tax
    lines = [
        _item_line(line, refs, line.rental_period or order.rental_period, taxed=taxed)
        for line in order.lines
    ]
    lines += [_item_line(fee, refs, fee.rental_period, taxed=taxed) for fee in order.fees]
    discount = _discount_line(order)
    if discount is not None:
        lines.append(discount)
    return lines


def _item_line(
    line: OrderLine, refs: InvoiceRefs, period: RentalPeriod | None, *, taxed: bool
) -> Payload:
    item_id = refs.item_ids.get(line.product_id)
    if not item_id:
        raise MappingError(
            MappingProblem.REFERENCE_MISSING,
            f"Product {line.product_id!r} has no QuickBooks item yet",
            field="lines.product_id",
            remedy="Send the product to rentsync (PUT it), then press Resync.",
        )
    detail: Payload = {
        "ItemRef": ref(item_id),
        "Qty": line.quantity,
        "UnitPrice": _unit_price(line),
        "TaxCodeRef": ref("TAX" if taxed and line.taxable else "NON"),
    }
    if period is not None:
        detail["ServiceDate"] = iso(period.start)
    payload: Payload = {}
    description = _description(line.description, period)
    if description:
        payload["Description"] = description
    payload.update(
        {"DetailType": "SalesItemLineDetail", "Amount": line.amount, "SalesItemLineDetail": detail}
    )
    return payload


def _unit_price(line: OrderLine) -> Decimal:
    if round_cents(line.quantity * line.rate) == line.amount:
        return line.rate
    return (line.amount / line.quantity).quantize(_UNIT_PRICE_PLACES)


def _description(text: str | None, period: RentalPeriod | None) -> str | None:
    if period is None:
        return text
    span = f"{iso(period.start)} to {iso(period.end)}"
    if not text:
        return f"Rental {span}"
    suffix = f" ({span})"
    return text[: DESCRIPTION_MAX_LENGTH - len(suffix)] + suffix


def _discount_line(order: Order) -> Payload | None:
    amount = order.totals.discount
    if amount == 0:
        return None
    detail: Payload = {"PercentBased": False}
    percent = _single_percent(order)
    if percent is not None:
        detail = {"PercentBased": True, "DiscountPercent": percent}
    line: Payload = {}
    description = "; ".join(d.description for d in order.discounts if d.description)
    if description:
        line["Description"] = description[:DESCRIPTION_MAX_LENGTH]
    line.update(
        {"DetailType": "DiscountLineDetail", "Amount": amount, "DiscountLineDetail": detail}
    )
    return line


def _single_percent(order: Order) -> Decimal | None:
    """The one percent discount, if QBO applying it to the subtotal gives the order's figure."""
    if len(order.discounts) != 1 or order.discounts[0].percent is None:
        return None
    percent = order.discounts[0].percent
    if round_cents(order.totals.subtotal * percent / _HUNDRED) != order.totals.discount:
        return None
    return percent


def _tax_detail(order: Order, refs: InvoiceRefs) -> Payload:
    if not refs.automated_sales_tax:
        if order.tax_rate_id is not None and refs.tax_code_id is None:
            raise MappingError(
                MappingProblem.TAX_RATE_NOT_SYNCED,
                f"Tax rate {order.tax_rate_id!r} is not a tax rate synced from QuickBooks",
                field="tax_rate_id",
                remedy=(
                    "Run Sync with QuickBooks under Tax Rates, choose one of those rates on the "
                    "order, then press Resync."
                ),
            )
        if order.totals.tax and refs.tax_code_id is None:
            raise MappingError(
                MappingProblem.TAX_WITHOUT_RATE,
                f"The order charges tax {order.totals.tax} but names no tax rate",
                field="tax_rate_id",
                remedy=(
                    "Choose a tax rate synced from QuickBooks (Tax Rates > Sync with "
                    "QuickBooks) on the order, then press Resync."
                ),
            )
    detail: Payload = {}
    if refs.tax_code_id is not None:
        detail["TxnTaxCodeRef"] = ref(refs.tax_code_id)
    if refs.automated_sales_tax:
        detail["TotalTax"] = order.totals.tax
    return detail


def invoice_delete(*, qbo_id: str, sync_token: str) -> Payload:
    """The body of `POST /invoice?operation=delete`."""
    return delete(qbo_id=qbo_id, sync_token=sync_token)
