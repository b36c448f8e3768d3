"""The vendor side, pure: ingest validation (422s), the QBO payloads (R5, R6), the display-name
rule shared with customers, the redaction of a vendor's tax id."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.vendors import Vendor, VendorBill, VendorPayment, bill_balance
from rentsync.mapping import bill as bill_mapping
from rentsync.mapping import bill_payment as payment_mapping
from rentsync.mapping.names import suffixed_display_name
from rentsync.mapping.vendor import vendor_create, vendor_update
from rentsync.qbo import redact
from tests.vendor_fixtures import bill, vendor, vendor_payment

BILL_KEY = DocumentKey(7, DocumentType.VENDOR_BILL, "B-1")
PAYMENT_KEY = DocumentKey(7, DocumentType.VENDOR_PAYMENT, "VP-1")


def invalid(model: type[Any], body: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return str(caught.value)


def test_r05_a_bill_line_has_a_product_or_a_category_not_both() -> None:
    body = bill()
    body["lines"][0].update(product_id="P-1", category="Fuel")
    assert "not both" in invalid(VendorBill, body)


def test_r05_a_bill_due_before_its_date_is_refused() -> None:
    assert "due_date" in invalid(VendorBill, bill(due_date="2026-11-01"))


def test_r06_a_payment_names_each_bill_once() -> None:
    body = vendor_payment({"B-1": "10.00"})
    body["bills"].append({"bill_id": "B-1", "amount": "5.00"})
    assert "once" in invalid(VendorPayment, body)


def test_r05_bill_payload_posts_to_the_accounts_it_was_given() -> None:
    model = VendorBill.model_validate(bill(amounts=("160.00", "45.00"), purchase_order_id="PO-1"))
    refs = bill_mapping.BillRefs(
        vendor_id="56",
        payable_account_id="33",
        line_accounts=["7", "80"],
        purchase_order_id="140",
    )
    payload = bill_mapping.bill_create(model, refs, key=BILL_KEY)
    assert payload["VendorRef"] == {"value": "56"}
    assert payload["APAccountRef"] == {"value": "33"}
    assert [line["AccountBasedExpenseLineDetail"]["AccountRef"] for line in payload["Line"]] == [
        {"value": "7"},
        {"value": "80"},
    ]
    assert payload["LinkedTxn"] == [{"TxnId": "140", "TxnType": "PurchaseOrder"}]
    assert payload["PrivateNote"] == "[rentsync:c7:vendor_bill:B-1]"
    with_order = VendorBill.model_validate(bill(amounts=("160.00", "45.00"), order_id="R-1001"))
    note = bill_mapping.bill_create(with_order, refs, key=BILL_KEY)["PrivateNote"]
    assert note == "[rentsync:c7:vendor_bill:B-1] for rental order R-1001"
    update = bill_mapping.bill_update(model, refs, key=BILL_KEY, qbo_id="9", sync_token="2")
    assert update["sparse"] is True and update["Id"] == "9"


@pytest.mark.parametrize(
    ("account_type", "pay_type", "detail"),
    [("Bank", "Check", "CheckPayment"), ("Credit Card", "CreditCard", "CreditCardPayment")],
)
def test_r06_the_paid_from_account_type_decides_the_pay_type(
    account_type: str, pay_type: str, detail: str
) -> None:
    model = VendorPayment.model_validate(vendor_payment({"B-1": "60.00", "B-2": "40.00"}))
    refs = payment_mapping.BillPaymentRefs(
        vendor_id="56",
        account_id="35",
        account_type=account_type,
        bill_ids={"B-1": "1", "B-2": "2"},
    )
    payload = payment_mapping.bill_payment_create(model, refs, key=PAYMENT_KEY)
    assert payload["PayType"] == pay_type
    assert detail in payload
    assert payload["TotalAmt"] == Decimal("100.00")
    assert [line["LinkedTxn"][0]["TxnId"] for line in payload["Line"]] == ["1", "2"]


def test_r06_a_bills_balance_is_its_total_less_live_payments() -> None:
    model = VendorBill.model_validate(bill(amounts=("100.00", "50.00")))
    paid = VendorPayment.model_validate(vendor_payment({"B-1": "60.00"}))
    voided = VendorPayment.model_validate(vendor_payment({"B-1": "90.00"}, voided=True))
    assert bill_balance(model, "B-1", [paid, voided]) == Decimal("90.00")


def test_r05_a_taken_name_gets_a_stable_suffix_and_the_tax_id_goes_to_qbo() -> None:
    assert suffixed_display_name("Harbor Events", "vendor") == "Harbor Events (vendor)"
    model = Vendor.model_validate(vendor())
    payload = vendor_create(model, company_id=7, vendor_id="V-1")
    assert payload["TaxIdentifier"] == "12-3456789"
    assert payload["Vendor1099"] is True
    assert payload["Notes"] == "[rentsync:c7:vendor:V-1]"
    update = vendor_update(model, qbo_id="5", sync_token="0", display_name="Ace (vendor)")
    assert update["DisplayName"] == "Ace (vendor)"
    assert "12-3456789" not in repr(model)


def test_r05_the_request_log_never_holds_a_vendors_tax_id() -> None:
    logged = redact.body('{"Vendor": {"DisplayName": "Ace", "TaxIdentifier": "12-3456789"}}')
    assert "12-3456789" not in logged
    assert "Ace" in logged


def test_r07_a_subrental_is_told_apart_by_its_memo_and_a_received_po_is_closed() -> None:
    from rentsync.domain.vendors import PurchaseOrder
    from rentsync.mapping import purchase_order as po_mapping
    from rentsync.sync.kinds.purchase_order import purchase_orders_allowed
    from tests.vendor_fixtures import purchase_order

    key = DocumentKey(7, DocumentType.PURCHASE_ORDER, "PO-1")
    refs = po_mapping.PurchaseOrderRefs(vendor_id="56", expense_account_id="80")
    subrental = PurchaseOrder.model_validate(purchase_order(kind="subrental", status="received"))
    payload = po_mapping.purchase_order_create(subrental, refs, key=key)
    assert payload["Memo"] == "Subrental: pick-up 2026-11-25, return 2026-11-30, order O-1"
    assert payload["POStatus"] == "Closed"
    plain = PurchaseOrder.model_validate(purchase_order())
    assert po_mapping.purchase_order_create(plain, refs, key=key)["POStatus"] == "Open"
    assert "Subrental" not in po_mapping.purchase_order_create(plain, refs, key=key)["PrivateNote"]
    assert purchase_orders_allowed("QuickBooks Online Plus")
    assert purchase_orders_allowed("QuickBooks Online Advanced")
    assert not purchase_orders_allowed("QuickBooks Online Essentials")
    assert not purchase_orders_allowed("QuickBooks Online Simple Start")


def test_r07_a_subrental_needs_its_pick_up_and_return_dates() -> None:
    from rentsync.domain.vendors import PurchaseOrder
    from tests.vendor_fixtures import purchase_order

    body = purchase_order(kind="subrental")
    del body["pick_up"]
    assert "pick_up" in invalid(PurchaseOrder, body)
