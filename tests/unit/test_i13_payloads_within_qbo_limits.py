"""Every field rentsync sends fits QBO's documented limits (issue 13, checked against Intuit's
reference as the emulator holds it: `qbo_emulator.entities.STRING_LIMITS`, DocNumber 21): each
kind's payload built from the longest input the API accepts (names 100, descriptions 4,000,
numbers 21, ids 64, addresses at their maxima) passes the emulator's length check, for a create
and for an update."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from qbo_emulator import faults, operations
from rentsync.domain.documents import Discount, DocumentType, OrderLine, ProductKind, RentalPeriod
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.payments import Payment
from rentsync.domain.settings import AccountMapping
from rentsync.domain.vendors import PurchaseOrder, Vendor, VendorBill, VendorPayment
from rentsync.mapping import bill, bill_payment, customer, invoice, item, payment, purchase_order
from rentsync.mapping import vendor as vendor_mapping
from rentsync.mapping.names import suffixed_display_name
from tests.unit.factories import make_customer, make_order, make_product
from tests.vendor_fixtures import purchase_order as po_body
from tests.vendor_fixtures import vendor as vendor_body

ID = "i" * 64
NAME = "N" * 100
TEXT = "t" * 4000
NUMBER = "9" * 21
ADDRESS = {
    "line1": "a" * 500,
    "line2": "b" * 500,
    "city": "c" * 255,
    "region": "r" * 255,
    "postal_code": "p" * 30,
    "country": "k" * 255,
}
CONTACT = {
    "company_name": "C" * 100,
    "email": "e" * 90 + "@x.example",
    "phone": "5" * 30,
}
ACCOUNTS = AccountMapping(income="1", expense="2", asset="3", payable="4")


def key(kind: DocumentType, source_id: str = ID) -> DocumentKey:
    return DocumentKey(2**31 - 1, kind, source_id)


def _customer() -> list[tuple[str, dict[str, Any]]]:
    model = make_customer(name=NAME, billing_address=ADDRESS, **CONTACT)
    suffixed = suffixed_display_name(NAME, "customer")
    return [
        ("Customer", customer.customer_create(model, company_id=2**31 - 1, customer_id=ID)),
        ("Customer", customer.customer_update(model, qbo_id="1", sync_token="0")),
        (
            "Customer",
            customer.customer_update(model, qbo_id="1", sync_token="0", display_name=suffixed),
        ),
    ]


def _vendor() -> list[tuple[str, dict[str, Any]]]:
    model = Vendor.model_validate(vendor_body(NAME, address=ADDRESS, tax_id="1" * 20, **CONTACT))
    return [
        ("Vendor", vendor_mapping.vendor_create(model, company_id=2**31 - 1, vendor_id=ID)),
        ("Vendor", vendor_mapping.vendor_update(model, qbo_id="1", sync_token="0")),
    ]


def _item() -> list[tuple[str, dict[str, Any]]]:
    made = []
    for kind in ProductKind:
        product = make_product(kind, name=NAME, description=TEXT, sku="S" * 100)
        made.append(("Item", item.item_create(product, ACCOUNTS, inventory_allowed=True)))
        made.append(("Item", item.item_update(product, ACCOUNTS, qbo_id="1", sync_token="0")))
    return made


def _invoice() -> list[tuple[str, dict[str, Any]]]:
    period = RentalPeriod(start=date(2026, 12, 1), end=date(2026, 12, 3))
    lines = [
        OrderLine(
            product_id=ID,
            quantity=Decimal(1),
            rate=Decimal("10.00"),
            amount=Decimal("10.00"),
            taxable=False,
            description=TEXT,
            rental_period=period,
        )
    ]
    discounts = [Discount(description=TEXT, amount=Decimal("1.00")) for _ in range(20)]
    order = make_order(lines=lines, discounts=discounts, discount="1.00", invoice_number=NUMBER)
    refs = invoice.InvoiceRefs(customer_id="1", item_ids={ID: "2"})
    order_key = key(DocumentType.ORDER)
    return [
        ("Invoice", invoice.invoice_create(order, refs, key=order_key)),
        ("Invoice", invoice.invoice_update(order, refs, key=order_key, qbo_id="1", sync_token="0")),
    ]


def _payment() -> list[tuple[str, dict[str, Any]]]:
    refund = {
        "id": ID,
        "amount": "5.00",
        "date": "2026-12-02",
        "method": "card",
        "reason": "r" * 1000,
    }
    model = Payment.model_validate(
        {
            "order_id": ID,
            "amount": "10.00",
            "date": "2026-12-01",
            "method": "check",
            "reference_number": NUMBER,
            "refunds": [refund],
        }
    )
    refs = payment.PaymentRefs(customer_id="1", invoice_id="2", deposit_account_id="3")
    refund_refs = payment.RefundRefs(
        customer_id="1", item_id="2", deposit_account_id="3", invoice_number=NUMBER
    )
    refund_key = key(DocumentType.REFUND, f"{ID}/{ID}")
    return [
        ("Payment", payment.payment_create(model, refs, key=key(DocumentType.PAYMENT))),
        (
            "RefundReceipt",
            payment.refund_receipt_create(
                model.refunds[0], refund_refs, key=refund_key, payment_id=ID
            ),
        ),
    ]


def _vendor_side() -> list[tuple[str, dict[str, Any]]]:
    model = VendorBill.model_validate(
        {
            "vendor_id": ID,
            "order_id": ID,
            "number": NUMBER,
            "date": "2026-11-24",
            "lines": [{"description": TEXT, "amount": "10.00"}],
        }
    )
    refs = bill.BillRefs(vendor_id="1", payable_account_id="2", line_accounts=["3"])
    paid = VendorPayment.model_validate(
        {
            "vendor_id": ID,
            "bills": [{"bill_id": ID, "amount": "10.00"}],
            "date": "2026-11-28",
            "method": "check",
            "reference_number": NUMBER,
        }
    )
    order = PurchaseOrder.model_validate(
        po_body(
            NUMBER,
            vendor_id=ID,
            kind="subrental",
            lines=[(TEXT, "1", "10.00")],
            memo="m" * 1000,
            order_id=ID,
            ship_to=ADDRESS,
        )
    )
    payment_refs = bill_payment.BillPaymentRefs(
        vendor_id="1", account_id="2", account_type=bill_payment.BANK, bill_ids={ID: "3"}
    )
    po_refs = purchase_order.PurchaseOrderRefs(vendor_id="1", expense_account_id="2")
    po_key = key(DocumentType.PURCHASE_ORDER)
    return [
        ("Bill", bill.bill_create(model, refs, key=key(DocumentType.VENDOR_BILL))),
        (
            "BillPayment",
            bill_payment.bill_payment_create(
                paid, payment_refs, key=key(DocumentType.VENDOR_PAYMENT)
            ),
        ),
        ("PurchaseOrder", purchase_order.purchase_order_create(order, po_refs, key=po_key)),
    ]


KINDS: list[Callable[[], list[tuple[str, dict[str, Any]]]]] = [
    _customer,
    _vendor,
    _item,
    _invoice,
    _payment,
    _vendor_side,
]


@pytest.mark.parametrize("payloads", KINDS, ids=lambda build: build.__name__.strip("_"))
def test_i13_the_longest_input_maps_to_payloads_within_qbos_limits(
    payloads: Callable[[], list[tuple[str, dict[str, Any]]]],
) -> None:
    for entity, body in payloads():
        try:
            operations.check_lengths(entity, body)
        except faults.QboFault as fault:
            raise AssertionError(f"{entity}: {fault}") from None
        number = body.get("DocNumber")
        assert number is None or len(number) <= 21, (entity, number)
