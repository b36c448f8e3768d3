"""Vendor-side documents as the rental system PUTs them, and the rig steps the vendor tests
share (tests/requirements/test_r05_* to test_r07_*)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.sync_rig import Rig


def vendor(name: str = "Ace Party Supply", **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "company_name": f"{name} LLC",
        "email": "billing@aceparty.example",
        "phone": "555-0190",
        "tax_id": "12-3456789",
        "is_1099": True,
        **overrides,
    }


def bill(
    number: str = "ACE-1",
    *,
    vendor_id: str = "V-1",
    amounts: tuple[str, ...] = ("160.00",),
    category: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    lines = [
        {
            "description": f"Line {n}",
            "amount": amount,
            **({"category": category} if category else {}),
        }
        for n, amount in enumerate(amounts, start=1)
    ]
    return {
        "vendor_id": vendor_id,
        "number": number,
        "date": "2026-11-24",
        "due_date": "2026-12-24",
        "lines": lines,
        **overrides,
    }


def vendor_payment(
    bills: dict[str, str],
    *,
    vendor_id: str = "V-1",
    method: str = "check",
    **overrides: Any,
) -> dict[str, Any]:
    return {
        "vendor_id": vendor_id,
        "bills": [{"bill_id": bill_id, "amount": amount} for bill_id, amount in bills.items()],
        "date": "2026-11-28",
        "method": method,
        "reference_number": "CHK-1001",
        **overrides,
    }


def purchase_order(
    number: str = "PO-1",
    *,
    vendor_id: str = "V-1",
    status: str = "approved",
    kind: str = "purchase",
    lines: list[tuple[str, str, str]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Lines are (description, quantity, rate)."""
    body: dict[str, Any] = {
        "number": number,
        "kind": kind,
        "vendor_id": vendor_id,
        "status": status,
        "date": "2026-11-20",
        "lines": [
            {"description": d, "quantity": q, "rate": r}
            for d, q, r in (lines or [("40 chiavari chairs", "40", "4.00")])
        ],
    }
    if kind == "subrental":
        body.update(pick_up="2026-11-25", return_date="2026-11-30", order_id="O-1")
    body.update(overrides)
    return body


def cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


async def ready(rig: Rig, *, categories: dict[str, str] | None = None) -> None:
    """Connected, accounts mapped (expense categories too), vendor V-1 sent."""
    await rig.connect()
    await map_vendor_accounts(rig, categories=categories)
    await rig.put("vendors", "V-1", vendor())


async def map_vendor_accounts(
    rig: Rig, *, categories: dict[str, str] | None = None, **overrides: str | None
) -> None:
    accounts: dict[str, Any] = {
        "income": rig.accounts["income"],
        "expense": rig.accounts["cogs"],
        "asset": rig.accounts["inventory"],
        "payable": rig.accounts["ap"],
        "vendor_payment": rig.accounts["bank"],
        "deposit": rig.accounts["undeposited"],
        "expense_categories": (
            categories if categories is not None else {"Subrentals": rig.accounts["expense"]}
        ),
        **overrides,
    }
    saved = await rig.api.put(
        "/api/v1/settings",
        json={"sync_mode": "all_orders_and_quotes", "accounts": accounts},
        headers=rig.headers,
    )
    assert saved.status_code == 200, saved.text
