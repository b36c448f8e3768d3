"""Realistic rental documents for unit tests: `make_order(**overrides)` and friends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from rentsync.domain.documents import (
    Customer,
    Discount,
    DocumentType,
    Order,
    OrderLine,
    OrderTotals,
    Product,
    ProductKind,
    RentalPeriod,
)
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.settings import AccountMapping

COMPANY_ID = 7
CONNECTED_AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ACCOUNTS = AccountMapping(income="79", expense="80", asset="81", payable="33")
WEEKEND = RentalPeriod(start=date(2025, 6, 13), end=date(2025, 6, 15))


def money(text: str) -> Decimal:
    return Decimal(text)


def line(
    product_id: str, quantity: str, rate: str, *, taxable: bool = True, **fields: Any
) -> OrderLine:
    amount = (Decimal(quantity) * Decimal(rate)).quantize(Decimal("0.01"))
    return OrderLine(
        product_id=product_id,
        quantity=Decimal(quantity),
        rate=Decimal(rate),
        amount=fields.pop("amount", amount),
        taxable=taxable,
        **fields,
    )


def make_order(
    *,
    lines: list[OrderLine] | None = None,
    fees: list[OrderLine] | None = None,
    discounts: list[Discount] | None = None,
    discount: str = "0.00",
    tax: str = "0.00",
    **fields: Any,
) -> Order:
    """An order whose totals add up: subtotal from the lines, total = subtotal - discount + tax."""
    lines = (
        lines
        if lines is not None
        else [line("tent-20x30", "1", "50.00"), line("chair", "7", "10.00")]
    )
    fees = fees or []
    subtotal = sum((item.amount for item in (*lines, *fees)), Decimal("0.00"))
    totals = OrderTotals(
        subtotal=subtotal,
        discount=Decimal(discount),
        tax=Decimal(tax),
        total=subtotal - Decimal(discount) + Decimal(tax),
    )
    defaults: dict[str, Any] = {
        "customer_id": "cust-42",
        "invoice_number": "R-1001",
        "invoice_date": date(2025, 6, 12),
    }
    return Order(
        **{**defaults, **fields},
        lines=lines,
        fees=fees,
        discounts=discounts or [],
        totals=totals,
    )


def order_key(source_id: str = "ord-1001") -> DocumentKey:
    return DocumentKey(COMPANY_ID, DocumentType.ORDER, source_id)


def make_product(kind: ProductKind = ProductKind.RENTAL, **fields: Any) -> Product:
    defaults: dict[str, Any] = {"name": "Tent 20x30", "rate": Decimal("250.00")}
    if kind is ProductKind.SALE:
        defaults.update(
            name="Linen napkin, white",
            rate=Decimal("2.50"),
            cost=Decimal("0.90"),
            quantity_on_hand=Decimal("1500"),
            tracking_start=date(2025, 6, 1),
            sku="LIN-NAP-W",
        )
    return Product(kind=kind, **{**defaults, **fields})


def make_customer(**fields: Any) -> Customer:
    defaults: dict[str, Any] = {
        "name": "Maple Street Weddings",
        "company_name": "Maple Street Weddings LLC",
        "email": "events@maplestreet.example",
        "phone": "+1 503 555 0142",
        "billing_address": {
            "line1": "12 Maple Street",
            "city": "Portland",
            "region": "OR",
            "postal_code": "97205",
            "country": "US",
        },
    }
    return Customer(**{**defaults, **fields})
