"""Invoices: computed totals, shapes, numbering, voids and deletes."""

from __future__ import annotations

import re
from typing import Any

from tests.emulator.conftest import Qbo

OFFSET = re.compile(r"[+-]\d\d:\d\d$")


async def recorded_invoice(qbo: Qbo, **extra: Any) -> dict[str, Any]:
    customer = await qbo.customer()
    item = await qbo.service_item()
    body = {
        "CustomerRef": {"value": customer["Id"]},
        "TxnDate": "2025-05-27",
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": 50,
                "SalesItemLineDetail": {
                    "ItemRef": {"value": item["Id"]},
                    "TaxCodeRef": {"value": "TAX"},
                },
            },
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": 70,
                "SalesItemLineDetail": {
                    "ItemRef": {"value": item["Id"]},
                    "TaxCodeRef": {"value": "TAX"},
                },
            },
            {
                "DetailType": "DiscountLineDetail",
                "Amount": 10,
                "DiscountLineDetail": {"PercentBased": False},
            },
        ],
        "TxnTaxDetail": {"TxnTaxCodeRef": {"value": qbo.tax_code_id("Local 8%")}},
        **extra,
    }
    return await qbo.create("Invoice", body)


async def test_invoice_totals_match_recorded_sandbox_invoice(qbo: Qbo) -> None:
    invoice = await recorded_invoice(qbo)
    subtotal = [line for line in invoice["Line"] if line["DetailType"] == "SubTotalLineDetail"]
    assert subtotal == [
        {"Amount": 120, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    ]
    assert invoice["TxnTaxDetail"]["TotalTax"] == 9.6
    assert invoice["TotalAmt"] == 119.6
    assert invoice["Balance"] == 119.6


async def test_invoice_response_carries_qbo_envelope_and_metadata(qbo: Qbo) -> None:
    customer = await qbo.customer()
    item = await qbo.service_item()
    response = await qbo.post(
        "invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 70,
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                }
            ],
        },
    )
    assert response.status_code == 200
    assert response.headers["intuit_tid"]
    body = response.json()
    assert set(body) == {"Invoice", "time"}
    invoice = body["Invoice"]
    assert isinstance(invoice["Id"], str) and invoice["SyncToken"] == "0"
    assert invoice["domain"] == "QBO" and invoice["sparse"] is False
    assert OFFSET.search(invoice["MetaData"]["CreateTime"])
    assert OFFSET.search(body["time"]) and "." in body["time"]
    assert invoice["DocNumber"] == "1001"
    assert invoice["Line"][0]["Id"] == "1"


async def test_apply_tax_after_discount_taxes_the_discounted_amount(qbo: Qbo) -> None:
    invoice = await recorded_invoice(qbo, ApplyTaxAfterDiscount=True)
    assert invoice["TxnTaxDetail"]["TotalTax"] == 8.8  # 8% of 110
    assert invoice["TotalAmt"] == 118.8


async def test_percent_discount_is_computed_from_subtotal(qbo: Qbo) -> None:
    customer = await qbo.customer()
    item = await qbo.service_item(taxable=False)
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 200,
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                },
                {
                    "DetailType": "DiscountLineDetail",
                    "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 12.5},
                },
            ],
        },
    )
    discount = next(line for line in invoice["Line"] if line["DetailType"] == "DiscountLineDetail")
    assert discount["Amount"] == 25
    assert invoice["TotalAmt"] == 175


async def test_duplicate_doc_number_is_6140_naming_the_clashing_txn(qbo: Qbo) -> None:
    first = await recorded_invoice(qbo, DocNumber="R-1001")
    second = await qbo.post("invoice", {**_copy_body(first), "DocNumber": "R-1001"})
    assert second.status_code == 400
    error = second.json()["Fault"]["Error"][0]
    assert error["code"] == "6140"
    assert f"TxnType=Invoice with TxnId={first['Id']}" in error["Detail"]
    allowed = await qbo.post(
        "invoice", {**_copy_body(first), "DocNumber": "R-1001"}, include="allowduplicatedocnum"
    )
    assert allowed.status_code == 200


async def test_doc_number_longer_than_21_chars_is_rejected(qbo: Qbo) -> None:
    first = await recorded_invoice(qbo)
    response = await qbo.post("invoice", {**_copy_body(first), "DocNumber": "X" * 22})
    assert response.json()["Fault"]["Error"][0]["code"] == "2050"


def _copy_body(invoice: dict[str, Any]) -> dict[str, Any]:
    lines = [line for line in invoice["Line"] if line["DetailType"] != "SubTotalLineDetail"]
    return {"CustomerRef": invoice["CustomerRef"], "Line": lines}


async def test_void_invoice_zeroes_amounts(qbo: Qbo) -> None:
    invoice = await recorded_invoice(qbo)
    response = await qbo.post(
        "invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}, operation="void"
    )
    voided = response.json()["Invoice"]
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0
    assert "Voided" in voided["PrivateNote"]
    assert voided["SyncToken"] == "1"


async def test_delete_invoice_returns_deleted_status_and_read_gives_610(qbo: Qbo) -> None:
    invoice = await recorded_invoice(qbo)
    response = await qbo.post(
        "invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="delete"
    )
    assert response.json()["Invoice"] == {"Id": invoice["Id"], "status": "Deleted", "domain": "QBO"}
    read = await qbo.client.get(qbo.url(f"invoice/{invoice['Id']}"))
    assert read.status_code == 400
    assert read.json()["Fault"]["Error"][0]["code"] == "610"


async def test_sparse_update_replaces_lines_wholesale_and_bumps_sync_token(qbo: Qbo) -> None:
    invoice = await recorded_invoice(qbo)
    one_line = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"][:1]
    response = await qbo.post(
        "invoice",
        {
            "Id": invoice["Id"],
            "SyncToken": "0",
            "sparse": True,
            "Line": one_line,
            "PrivateNote": "changed",
        },
    )
    updated = response.json()["Invoice"]
    assert updated["SyncToken"] == "1"
    assert [line["Amount"] for line in updated["Line"]] == [50, 50]  # item + SubTotal
    assert updated["CustomerRef"]["value"] == invoice["CustomerRef"]["value"]
    assert updated["TotalAmt"] == 54  # 50 + 8% tax


async def test_stale_sync_token_is_5010(qbo: Qbo) -> None:
    invoice = await recorded_invoice(qbo)
    await qbo.post(
        "invoice", {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "a"}
    )
    stale = await qbo.post(
        "invoice", {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "b"}
    )
    assert stale.status_code == 400
    assert stale.json()["Fault"]["Error"][0]["code"] == "5010"
    assert stale.json()["Fault"]["type"] == "ValidationFault"


async def test_full_update_clears_omitted_fields(qbo: Qbo) -> None:
    invoice = await recorded_invoice(qbo, PrivateNote="keep?")
    body = {**_copy_body(invoice), "Id": invoice["Id"], "SyncToken": "0"}
    updated = (await qbo.post("invoice", body)).json()["Invoice"]
    assert "PrivateNote" not in updated


async def test_update_keeps_sent_line_ids_and_gives_new_lines_new_ids(qbo: Qbo) -> None:
    invoice = await recorded_invoice(qbo)  # lines 1, 2 (items) and 3 (discount)
    items = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert [line["Id"] for line in items] == ["1", "2"]
    second, first = items[1], items[0]
    new_line = {k: v for k, v in first.items() if k not in {"Id", "LineNum"}}
    response = await qbo.post(
        "invoice",
        {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "Line": [second, new_line]},
    )
    updated = response.json()["Invoice"]
    kept = [line for line in updated["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert [(line["Id"], line["Amount"]) for line in kept] == [("2", 70), ("4", 50)]
    assert [line["LineNum"] for line in kept] == [1, 2]
    unknown = {**new_line, "Id": "99"}
    again = await qbo.post(
        "invoice",
        {"Id": invoice["Id"], "SyncToken": "1", "sparse": True, "Line": [kept[1], unknown]},
    )
    ids = [line.get("Id") for line in again.json()["Invoice"]["Line"]]
    assert ids == ["4", "5", None]  # SubTotal has no Id


async def test_addresses_carry_ids_and_an_invoice_takes_the_customers(qbo: Qbo) -> None:
    street = {"Line1": "5 Pier Rd", "City": "Oakland", "CountrySubDivisionCode": "CA"}
    customer = await qbo.create(
        "Customer",
        {
            "DisplayName": "Harbor Events",
            "BillAddr": street,
            "ShipAddr": {**street, "Line1": "9 Dock"},
        },
    )
    bill_id, ship_id = customer["BillAddr"]["Id"], customer["ShipAddr"]["Id"]
    assert bill_id != ship_id and bill_id.isdigit() and ship_id.isdigit()
    item = await qbo.service_item()
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 10,
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
    }
    invoice = await qbo.create(
        "Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [line]}
    )
    assert {k: v for k, v in invoice["BillAddr"].items() if k != "Id"} == street
    assert invoice["BillAddr"]["Id"] not in {bill_id, ship_id}
    assert invoice["ShipAddr"] == customer["ShipAddr"]
    sent = await qbo.create(
        "Invoice",
        {"CustomerRef": {"value": customer["Id"]}, "Line": [line], "BillAddr": {"Line1": "Else"}},
    )
    assert sent["BillAddr"]["Line1"] == "Else" and sent["BillAddr"]["Id"].isdigit()
    again = await qbo.post(
        "customer",
        {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "BillAddr": customer["BillAddr"]},
    )
    assert again.json()["Customer"]["BillAddr"]["Id"] == bill_id


async def test_vendor_address_on_a_purchase_order_gets_an_id(qbo: Qbo) -> None:
    vendor = await qbo.create("Vendor", {"DisplayName": "Canvas Co"})
    order = await qbo.create(
        "PurchaseOrder",
        {
            "VendorRef": {"value": vendor["Id"]},
            "VendorAddr": {"Line1": "1 Mill St"},
            "Line": [
                {
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "Amount": 5,
                    "AccountBasedExpenseLineDetail": {
                        "AccountRef": {"value": qbo.account("expense")}
                    },
                }
            ],
        },
    )
    assert order["VendorAddr"]["Id"].isdigit()
