"""Payments lower invoice balances; voids restore them; bills, bill payments, POs, credits."""

from __future__ import annotations

from typing import Any

from tests.emulator.conftest import Qbo


async def _invoice(qbo: Qbo, amount: int = 100) -> dict[str, Any]:
    customer = await qbo.customer()
    item = await qbo.service_item(taxable=False)
    return await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": amount,
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                }
            ],
        },
    )


def _payment(invoice: dict[str, Any], amount: float) -> dict[str, Any]:
    return {
        "CustomerRef": invoice["CustomerRef"],
        "TotalAmt": amount,
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }


async def test_payment_lowers_invoice_balance_and_void_restores_it(qbo: Qbo) -> None:
    invoice = await _invoice(qbo)
    payment = await qbo.create("Payment", _payment(invoice, 30))
    assert payment["UnappliedAmt"] == 0
    assert payment["DepositToAccountRef"]["value"] == qbo.account("undeposited")
    after = (await qbo.client.get(qbo.url(f"invoice/{invoice['Id']}"))).json()["Invoice"]
    assert after["Balance"] == 70
    assert {"TxnId": payment["Id"], "TxnType": "Payment"} in after["LinkedTxn"]
    voided = await qbo.post(
        "payment",
        {"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True},
        operation="update",
        include="void",
    )
    assert voided.json()["Payment"]["TotalAmt"] == 0
    restored = (await qbo.client.get(qbo.url(f"invoice/{invoice['Id']}"))).json()["Invoice"]
    assert restored["Balance"] == 100


async def test_payment_linking_unknown_invoice_is_610(qbo: Qbo) -> None:
    invoice = await _invoice(qbo)
    response = await qbo.post("payment", _payment({**invoice, "Id": "99999"}, 10))
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["code"] == "610"


async def test_overpaying_an_invoice_is_rejected(qbo: Qbo) -> None:
    invoice = await _invoice(qbo)
    response = await qbo.post("payment", _payment(invoice, 150))
    assert response.json()["Fault"]["Error"][0]["code"] == "6000"


async def test_invoice_void_with_operation_void_only(qbo: Qbo) -> None:
    invoice = await _invoice(qbo)
    wrong = await qbo.post(
        "invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="update", include="void"
    )
    assert wrong.status_code == 400


async def test_bill_payment_lowers_bill_balance(qbo: Qbo) -> None:
    vendor = await qbo.create("Vendor", {"DisplayName": "Tent Supply Co"})
    bill = await qbo.create(
        "Bill",
        {
            "VendorRef": {"value": vendor["Id"]},
            "TxnDate": "2025-06-11",
            "DocNumber": "V-INV-77",
            "Line": [
                {
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "Amount": 200.00,
                    "AccountBasedExpenseLineDetail": {
                        "AccountRef": {"value": qbo.account("expense")}
                    },
                }
            ],
        },
    )
    assert bill["Balance"] == 200 and bill["APAccountRef"]["value"] == qbo.account("ap")
    payment = await qbo.create(
        "BillPayment",
        {
            "VendorRef": {"value": vendor["Id"]},
            "PayType": "Check",
            "CheckPayment": {"BankAccountRef": {"value": qbo.account("bank")}},
            "TotalAmt": 5.00,
            "Line": [{"Amount": 5.00, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
        },
    )
    assert payment["CheckPayment"]["PrintStatus"] == "NeedToPrint"
    after = (await qbo.client.get(qbo.url(f"bill/{bill['Id']}"))).json()["Bill"]
    assert after["Balance"] == 195


async def test_bill_payment_check_without_bank_account_is_2020(qbo: Qbo) -> None:
    vendor = await qbo.create("Vendor", {"DisplayName": "V"})
    response = await qbo.post(
        "billpayment", {"VendorRef": {"value": vendor["Id"]}, "PayType": "Check", "TotalAmt": 1}
    )
    assert response.json()["Fault"]["Error"][0]["code"] == "2020"


async def test_purchase_order_closes_when_a_bill_links_it(qbo: Qbo) -> None:
    vendor = await qbo.create("Vendor", {"DisplayName": "PO Vendor"})
    item = await qbo.service_item()
    lines = [
        {
            "DetailType": "ItemBasedExpenseLineDetail",
            "Amount": 50.00,
            "ItemBasedExpenseLineDetail": {
                "ItemRef": {"value": item["Id"]},
                "Qty": 5,
                "UnitPrice": 10,
            },
        }
    ]
    order = await qbo.create("PurchaseOrder", {"VendorRef": {"value": vendor["Id"]}, "Line": lines})
    assert order["POStatus"] == "Open" and order["TotalAmt"] == 50
    await qbo.create(
        "Bill",
        {
            "VendorRef": {"value": vendor["Id"]},
            "Line": lines,
            "LinkedTxn": [{"TxnId": order["Id"], "TxnType": "PurchaseOrder"}],
        },
    )
    closed = (await qbo.client.get(qbo.url(f"purchaseorder/{order['Id']}"))).json()
    assert closed["PurchaseOrder"]["POStatus"] == "Closed"


async def test_credit_memo_and_refund_receipt_compute_totals(qbo: Qbo) -> None:
    customer = await qbo.customer()
    item = await qbo.service_item(taxable=False)
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 40,
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 2, "UnitPrice": 20},
    }
    memo = await qbo.create(
        "CreditMemo", {"CustomerRef": {"value": customer["Id"]}, "Line": [line]}
    )
    assert memo["TotalAmt"] == 40 and memo["RemainingCredit"] == 40
    missing = await qbo.post(
        "refundreceipt", {"CustomerRef": {"value": customer["Id"]}, "Line": [line]}
    )
    assert missing.json()["Fault"]["Error"][0]["element"] == "DepositToAccountRef"
    refund = await qbo.create(
        "RefundReceipt",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [line],
            "DepositToAccountRef": {"value": qbo.account("bank")},
        },
    )
    assert refund["TotalAmt"] == 40


async def test_amount_not_qty_times_price_is_6070(qbo: Qbo) -> None:
    customer = await qbo.customer()
    item = await qbo.service_item()
    response = await qbo.post(
        "invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 41,
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item["Id"]},
                        "Qty": 2,
                        "UnitPrice": 20,
                    },
                }
            ],
        },
    )
    assert response.json()["Fault"]["Error"][0]["code"] == "6070"
