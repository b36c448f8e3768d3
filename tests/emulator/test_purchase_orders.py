"""Purchase orders as QBO keeps them: closed once billed in full (a partial bill leaves the PO
open), closed and reopened by hand through POStatus; not on Essentials (choices.py)."""

from __future__ import annotations

from typing import Any

from tests.emulator.conftest import Qbo


def expense_lines(amount: float, account_id: str) -> list[dict[str, Any]]:
    return [
        {
            "DetailType": "AccountBasedExpenseLineDetail",
            "Amount": amount,
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account_id}},
        }
    ]


async def po_status(qbo: Qbo, po_id: str) -> str:
    body = (await qbo.client.get(qbo.url(f"purchaseorder/{po_id}"))).json()
    return str(body["PurchaseOrder"]["POStatus"])


async def test_a_purchase_order_closes_only_when_its_bills_cover_it(qbo: Qbo) -> None:
    vendor = await qbo.create("Vendor", {"DisplayName": "Partial Vendor"})
    account = qbo.company.preset_accounts["expense"]
    order = await qbo.create(
        "PurchaseOrder",
        {"VendorRef": {"value": vendor["Id"]}, "Line": expense_lines(100, account)},
    )
    link = [{"TxnId": order["Id"], "TxnType": "PurchaseOrder"}]
    bill = {"VendorRef": {"value": vendor["Id"]}, "LinkedTxn": link}
    first = await qbo.create("Bill", {**bill, "Line": expense_lines(40, account)})
    assert await po_status(qbo, order["Id"]) == "Open"
    await qbo.create("Bill", {**bill, "Line": expense_lines(60, account)})
    assert await po_status(qbo, order["Id"]) == "Closed"
    deleted = await qbo.post(
        "bill", {"Id": first["Id"], "SyncToken": first["SyncToken"]}, operation="delete"
    )
    assert deleted.status_code == 200, deleted.text
    assert await po_status(qbo, order["Id"]) == "Open"


async def test_a_purchase_order_is_closed_and_reopened_by_hand(qbo: Qbo) -> None:
    vendor = await qbo.create("Vendor", {"DisplayName": "Manual Vendor"})
    account = qbo.company.preset_accounts["expense"]
    order = await qbo.create(
        "PurchaseOrder",
        {"VendorRef": {"value": vendor["Id"]}, "Line": expense_lines(80, account)},
    )
    closed = await qbo.post(
        "purchaseorder",
        {"Id": order["Id"], "SyncToken": order["SyncToken"], "sparse": True, "POStatus": "Closed"},
    )
    assert closed.status_code == 200, closed.text
    stored = closed.json()["PurchaseOrder"]
    assert stored["POStatus"] == "Closed" and stored["ManuallyClosed"] is True
    reopened = await qbo.post(
        "purchaseorder",
        {"Id": order["Id"], "SyncToken": stored["SyncToken"], "sparse": True, "POStatus": "Open"},
    )
    assert reopened.json()["PurchaseOrder"]["POStatus"] == "Open"
    refused = await qbo.post(
        "purchaseorder",
        {"Id": order["Id"], "SyncToken": "2", "sparse": True, "POStatus": "Shipped"},
    )
    assert refused.status_code == 400


async def test_updating_a_paid_bill_keeps_its_payment_links_and_balance(qbo: Qbo) -> None:
    vendor = await qbo.create("Vendor", {"DisplayName": "Paid Vendor"})
    account = qbo.company.preset_accounts["expense"]
    bill = await qbo.create(
        "Bill", {"VendorRef": {"value": vendor["Id"]}, "Line": expense_lines(100, account)}
    )
    await qbo.create(
        "BillPayment",
        {
            "VendorRef": {"value": vendor["Id"]},
            "PayType": "Check",
            "TotalAmt": 30,
            "CheckPayment": {"BankAccountRef": {"value": qbo.company.preset_accounts["bank"]}},
            "Line": [{"Amount": 30, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
        },
    )
    current = (await qbo.client.get(qbo.url(f"bill/{bill['Id']}"))).json()["Bill"]
    updated = await qbo.post(
        "bill",
        {
            "Id": bill["Id"],
            "SyncToken": current["SyncToken"],
            "sparse": True,
            "Line": expense_lines(120, account),
            "LinkedTxn": [],
        },
    )
    stored = updated.json()["Bill"]
    assert [link["TxnType"] for link in stored["LinkedTxn"]] == ["BillPayment"]
    assert stored["Balance"] == 90
