"""Realistic rental documents for API tests (bodies as the rental system would PUT them)."""

from __future__ import annotations

from typing import Any


def customer(name: str = "Maple Street Events", **overrides: Any) -> dict[str, Any]:
    return {"name": name, "email": "events@maplestreet.example", "phone": "555-0142", **overrides}


def rental_product(
    name: str = "Tent 20x30", rate: str = "450.00", **overrides: Any
) -> dict[str, Any]:
    return {"name": name, "kind": "rental", "rate": rate, "taxable": True, **overrides}


def fee_product(name: str = "Delivery", rate: str = "75.00") -> dict[str, Any]:
    return {"name": name, "kind": "fee", "rate": rate, "taxable": False}


def sale_product(name: str = "Napkins (pack of 50)", **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "sale",
        "rate": "12.00",
        "cost": "4.50",
        "quantity_on_hand": "200",
        "tracking_start": "2026-11-01",
        **overrides,
    }


def order(
    invoice_number: str = "1001",
    *,
    customer_id: str = "C-1",
    lines: list[tuple[str, str, str]] | None = None,
    discount: str = "0.00",
    tax: str = "0.00",
    **overrides: Any,
) -> dict[str, Any]:
    """An order whose totals add up; lines are (product_id, quantity, rate)."""
    from decimal import Decimal

    lines = lines or [("P-TENT", "1", "450.00")]
    body_lines = []
    subtotal = Decimal("0.00")
    for product_id, quantity, rate in lines:
        amount = (Decimal(quantity) * Decimal(rate)).quantize(Decimal("0.01"))
        subtotal += amount
        body_lines.append(
            {"product_id": product_id, "quantity": quantity, "rate": rate, "amount": str(amount)}
        )
    total = subtotal - Decimal(discount) + Decimal(tax)
    body: dict[str, Any] = {
        "kind": "order",
        "customer_id": customer_id,
        "invoice_number": invoice_number,
        "invoice_date": "2026-11-20",
        "lines": body_lines,
        "totals": {
            "subtotal": str(subtotal),
            "discount": discount,
            "tax": tax,
            "total": str(total),
        },
    }
    if Decimal(discount):
        body["discounts"] = [{"amount": discount}]
    body.update(overrides)
    return body
