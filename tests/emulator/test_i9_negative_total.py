"""Issue 9, the product's edges: QBO refuses a sales form whose total is below zero (choices.py,
NEGATIVE_TOTAL_*); nothing is stored."""

from __future__ import annotations

from tests.emulator.conftest import Qbo


async def test_i9_an_invoice_below_zero_is_refused_and_not_stored(qbo: Qbo) -> None:
    customer = await qbo.customer()
    item = await qbo.service_item()
    invoice = {
        "CustomerRef": {"value": customer["Id"]},
        "DocNumber": "NEG-1",
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": 100,
                "SalesItemLineDetail": {
                    "ItemRef": {"value": item["Id"]},
                    "Qty": 1,
                    "UnitPrice": 100,
                },
            },
            {
                "DetailType": "DiscountLineDetail",
                "Amount": 150,
                "DiscountLineDetail": {"PercentBased": False},
            },
        ],
    }
    refused = await qbo.post("invoice", invoice)
    assert refused.status_code == 400
    (error,) = refused.json()["Fault"]["Error"]
    assert error["code"] == "6000"
    assert error["Detail"] == "Business Validation Error: Transaction amount must be positive"
    found = await qbo.query("select * from Invoice where DocNumber = 'NEG-1'")
    assert found["QueryResponse"].get("Invoice", []) == []
    invoice["Line"][1]["Amount"] = 100  # down to zero: allowed
    assert (await qbo.post("invoice", invoice)).status_code == 200
