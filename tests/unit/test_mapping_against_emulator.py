"""Our payloads, written into the emulator's books in-process (no HTTP): QBO's computed figures
agree with the rental system's totals, and read-back verification (B2) says so.

The emulator stands for QBO (reference/qbo-api.md); going through its write functions checks
field names, references and computed totals without a server.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from qbo_emulator import operations, presets
from qbo_emulator.books import Company
from rentsync.domain.documents import Discount, Order, ProductKind
from rentsync.domain.settings import AccountMapping
from rentsync.mapping.customer import customer_create
from rentsync.mapping.invoice import InvoiceRefs, invoice_create, invoice_update
from rentsync.mapping.item import item_create
from rentsync.sync.verify import Figure, verify_invoice
from tests.unit.factories import WEEKEND, line, make_customer, make_order, make_product, order_key

NOW = datetime(2025, 6, 10, 16, 0, tzinfo=UTC)
WRITE = operations.Options()


def books(*, ast: bool = False) -> Company:
    return presets.build_company(presets.Preset(ast=ast), NOW)


def accounts_of(company: Company) -> AccountMapping:
    known = company.preset_accounts
    return AccountMapping(
        income=known["income"], expense=known["cogs"], asset=known["inventory"], payable=known["ap"]
    )


def tax_code(company: Company, name: str) -> str:
    return next(c["Id"] for c in company.table("TaxCode").values() if c["Name"] == name)


def write_invoice(company: Company, order: Order, *, tax_code_id: str | None) -> dict[str, Any]:
    customer = operations.create(
        company,
        "Customer",
        customer_create(make_customer(), company_id=7, customer_id="c"),
        NOW,
        WRITE,
    )
    item_ids: dict[str, str] = {}
    for product_id in order.product_ids():
        kind = ProductKind.SALE if product_id == "napkin" else ProductKind.RENTAL
        product = make_product(kind, name=f"Product {product_id}")
        body = item_create(product, accounts_of(company), inventory_allowed=True)
        item_ids[product_id] = operations.create(company, "Item", body, NOW, WRITE)["Id"]
    refs = InvoiceRefs(
        customer_id=customer["Id"],
        item_ids=item_ids,
        tax_code_id=tax_code_id,
        automated_sales_tax=company.ast,
    )
    return operations.create(
        company, "Invoice", invoice_create(order, refs, key=order_key()), NOW, WRITE
    )


def test_b2_recorded_sandbox_example_is_computed_as_the_rental_system_did() -> None:
    company = books()
    order = make_order(
        lines=[line("p1", "1", "50.00"), line("p2", "1", "70.00")],
        discounts=[Discount(amount=Decimal("10.00"))],
        discount="10.00",
        tax="9.60",
        tax_rate_id="local-8",
        invoice_date=date(2025, 6, 10),
    )
    invoice = write_invoice(company, order, tax_code_id=tax_code(company, "Local 8%"))
    subtotal = next(e for e in invoice["Line"] if e["DetailType"] == "SubTotalLineDetail")
    assert subtotal["Amount"] == Decimal("120.00")
    assert invoice["TxnTaxDetail"]["TotalTax"] == Decimal("9.60")
    assert invoice["TotalAmt"] == Decimal("119.60")
    assert invoice["Balance"] == Decimal("119.60")
    assert verify_invoice(order, invoice, applied_payments=Decimal("0.00")) == []


def test_b2_party_weekend_with_percent_discount_sale_item_and_fee_verifies() -> None:
    company = books()
    order = make_order(
        lines=[
            line("tent", "1", "450.00"),
            line("chair", "120", "2.75"),
            line("napkin", "120", "0.85"),
        ],
        fees=[line("delivery", "1", "85.00", taxable=False)],
        discounts=[Discount(percent=Decimal("10"))],
        discount="96.70",
        tax="70.56",
        tax_rate_id="local-8",
        rental_period=WEEKEND,
        invoice_date=date(2025, 6, 10),
    )
    invoice = write_invoice(company, order, tax_code_id=tax_code(company, "Local 8%"))
    assert verify_invoice(order, invoice, applied_payments=Decimal("0.00")) == []


def test_b2_ast_company_honours_the_tax_override() -> None:
    company = books(ast=True)
    order = make_order(tax="7.77", invoice_date=date(2025, 6, 10))
    invoice = write_invoice(company, order, tax_code_id=None)
    assert verify_invoice(order, invoice) == []


def test_b2_wrong_tax_rate_in_qbo_is_reported_as_a_tax_mismatch() -> None:
    """The rental system charged 8 %; the code synced for its rate is QBO's 6 % code."""
    company = books()
    order = make_order(
        lines=[line("p1", "1", "50.00"), line("p2", "1", "70.00")],
        tax="9.60",
        tax_rate_id="local-8",
        invoice_date=date(2025, 6, 10),
    )
    invoice = write_invoice(company, order, tax_code_id=tax_code(company, "State 6%"))
    mismatches = verify_invoice(order, invoice)
    assert [m.figure for m in mismatches] == [Figure.TAX, Figure.TOTAL]
    assert (mismatches[0].expected, mismatches[0].actual) == (Decimal("9.60"), Decimal("7.20"))


def test_r17_sparse_update_replaces_every_line_in_qbo() -> None:
    company = books()
    order = make_order(invoice_date=date(2025, 6, 10))
    created = write_invoice(company, order, tax_code_id=None)
    item_ids = {
        product_id: created["Line"][n]["SalesItemLineDetail"]["ItemRef"]["value"]
        for n, product_id in enumerate(order.product_ids())
    }
    changed = make_order(lines=[line("chair", "9", "10.00")], invoice_date=date(2025, 6, 10))
    refs = InvoiceRefs(customer_id=created["CustomerRef"]["value"], item_ids=item_ids)
    body = invoice_update(
        changed, refs, key=order_key(), qbo_id=created["Id"], sync_token=created["SyncToken"]
    )
    updated = operations.update(company, "Invoice", body, NOW, WRITE)
    assert [e["DetailType"] for e in updated["Line"]] == [
        "SalesItemLineDetail",
        "SubTotalLineDetail",
    ]
    assert verify_invoice(changed, updated) == []


@pytest.mark.parametrize("kind", list(ProductKind))
def test_r09_item_payloads_are_accepted_by_the_emulator(kind: ProductKind) -> None:
    company = books()
    body = item_create(make_product(kind), accounts_of(company), inventory_allowed=True)
    item = operations.create(company, "Item", body, NOW, WRITE)
    assert item["Type"] == ("Inventory" if kind is ProductKind.SALE else "Service")
