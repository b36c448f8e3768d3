"""The demo's vendor side: what the party-rental business owes and orders, as its rental
system PUTs it, step by step (each step once the one before has settled).

A subrental purchase order approved, billed (linked to the PO) and received; the bill paid by
check; a vendor whose name is also a customer's (QuickBooks names it "<name> (vendor)"), its
bill paid by credit card; a purchase order approved and then cancelled (gone from QuickBooks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from rentsync.demo.seed import SYNCED, Expected

EXPENSE_CATEGORIES = {"Subrentals": "expense", "Catering and staff": "expense"}
"""The demo's expense categories -> the emulator account (by role) each is mapped to."""


@dataclass(frozen=True, kw_only=True)
class SeedVendor:
    source_id: str
    body: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class VendorStep:
    """One PUT of a vendor-side document, in order; `paid_from` names the emulator account (by
    role) a vendor payment is paid from."""

    path: str
    """Under /api/v1, e.g. `purchase-orders/PO-7001`."""
    body: dict[str, Any]
    version: int = 1
    expected: Expected = SYNCED
    story: str
    paid_from: str | None = None
    outcome: str | None = None
    """Text the final sync outcome contains (e.g. "deleted in QuickBooks")."""


def sunny_vendor_side(monday: date) -> tuple[list[SeedVendor], list[VendorStep]]:
    fri, sat, mon = (monday + timedelta(days=n) for n in (4, 5, 7))
    vendors = [
        SeedVendor(
            source_id="V-ACE",
            body={
                "name": "Ace Event Rentals",
                "company_name": "Ace Event Rentals Inc.",
                "email": "ap@ace-events.example",
                "phone": "916-555-0300",
                "address": {"line1": "400 Depot Rd", "city": "Sacramento", "region": "CA"},
                "tax_id": "94-1234567",
                "is_1099": True,
            },
        ),
        SeedVendor(
            source_id="V-BLUEFERN",
            body={
                "name": "Blue Fern Catering",
                "email": "billing@bluefern.example",
                "phone": "916-555-0118",
            },
        ),
    ]
    chairs = {"description": "Chiavari chair, gold (subrented)", "quantity": "60", "rate": "3.50"}
    heaters = {"description": "Patio heater (subrented)", "quantity": "4", "rate": "30.00"}
    subrental = {
        "number": "PO-7001",
        "kind": "subrental",
        "vendor_id": "V-ACE",
        "date": monday.isoformat(),
        "order_id": "R-24103",
        "pick_up": fri.isoformat(),
        "return_date": mon.isoformat(),
        "lines": [chairs, heaters],
        "ship_to": {"line1": "1 Marina Way", "city": "Sacramento", "region": "CA"},
    }
    linens = {
        "number": "PO-7002",
        "kind": "purchase",
        "vendor_id": "V-ACE",
        "date": monday.isoformat(),
        "lines": [
            {"description": "Linen napkins, ivory (dozen)", "quantity": "10", "rate": "18.00"}
        ],
    }
    steps = [
        VendorStep(
            path="purchase-orders/PO-7001",
            body={**subrental, "status": "approved"},
            story="Subrental of 60 chairs and 4 heaters approved: an open purchase order.",
        ),
        VendorStep(
            path="vendor-bills/B-801",
            body={
                "vendor_id": "V-ACE",
                "order_id": "R-24103",
                "number": "ACE-5521",
                "date": sat.isoformat(),
                "due_date": (sat + timedelta(days=30)).isoformat(),
                "purchase_order_id": "PO-7001",
                "lines": [
                    {
                        "description": "Chiavari chairs x 60",
                        "amount": "210.00",
                        "category": "Subrentals",
                    },
                    {
                        "description": "Patio heaters x 4",
                        "amount": "120.00",
                        "category": "Subrentals",
                    },
                ],
            },
            story="Ace's bill for the subrental, linked to its purchase order.",
        ),
        VendorStep(
            path="purchase-orders/PO-7001",
            body={**subrental, "status": "received"},
            version=2,
            story="Received: the purchase order is closed in QuickBooks.",
        ),
        VendorStep(
            path="vendor-payments/VP-901",
            body={
                "vendor_id": "V-ACE",
                "bills": [{"bill_id": "B-801", "amount": "330.00"}],
                "date": mon.isoformat(),
                "method": "check",
                "reference_number": "1042",
            },
            story="Ace's bill paid by check from the bank account.",
        ),
        VendorStep(
            path="vendor-bills/B-802",
            body={
                "vendor_id": "V-BLUEFERN",
                "number": "BF-310",
                "date": sat.isoformat(),
                "lines": [
                    {
                        "description": "Serving staff, Summit Tech party",
                        "amount": "180.00",
                        "category": "Catering and staff",
                    }
                ],
            },
            story="Blue Fern is a customer too: the vendor is 'Blue Fern Catering (vendor)'.",
        ),
        VendorStep(
            path="vendor-payments/VP-902",
            body={
                "vendor_id": "V-BLUEFERN",
                "bills": [{"bill_id": "B-802", "amount": "180.00"}],
                "date": mon.isoformat(),
                "method": "credit_card",
            },
            paid_from="card",
            story="Blue Fern's bill paid by credit card.",
        ),
        VendorStep(
            path="purchase-orders/PO-7002",
            body={**linens, "status": "approved"},
            story="Linen napkins ordered ...",
        ),
        VendorStep(
            path="purchase-orders/PO-7002",
            body={**linens, "status": "cancelled"},
            version=2,
            story="... then cancelled: deleted from QuickBooks.",
            outcome="deleted in QuickBooks",
        ),
    ]
    return vendors, steps


def last_steps(steps: Sequence[VendorStep]) -> list[VendorStep]:
    """Each document's final step, in the order the documents first appear."""
    final: dict[str, VendorStep] = {}
    for step in steps:
        final.pop(step.path, None)
        final[step.path] = step
    order = list(dict.fromkeys(step.path for step in steps))
    return [final[path] for path in order]
