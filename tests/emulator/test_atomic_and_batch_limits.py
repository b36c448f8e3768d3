"""Writes are all or nothing; batches are limited per app (40/min) and per realm (120/min)."""

from __future__ import annotations

import copy
from typing import Any

import httpx2
from tests.emulator.conftest import Qbo

from qbo_emulator.testing import emulator_transport


async def _stock_and_order(qbo: Qbo) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    vendor = await qbo.create("Vendor", {"DisplayName": "PO Vendor"})
    item = await qbo.create(
        "Item",
        {
            "Name": "Tent 10x20",
            "Type": "Inventory",
            "TrackQtyOnHand": True,
            "QtyOnHand": 10,
            "InvStartDate": "2025-01-01",
            "IncomeAccountRef": {"value": qbo.account("income")},
            "ExpenseAccountRef": {"value": qbo.account("cogs")},
            "AssetAccountRef": {"value": qbo.account("inventory")},
        },
    )
    lines = [
        {
            "DetailType": "ItemBasedExpenseLineDetail",
            "Amount": 50,
            "ItemBasedExpenseLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 5},
        }
    ]
    order = await qbo.create("PurchaseOrder", {"VendorRef": {"value": vendor["Id"]}, "Line": lines})
    return vendor, order, lines


async def test_bill_linking_an_unknown_purchase_order_leaves_nothing_half_applied(
    qbo: Qbo,
) -> None:
    vendor, order, lines = await _stock_and_order(qbo)
    before = copy.deepcopy(qbo.company.store)
    next_id = qbo.company.next_id
    bill = {
        "VendorRef": {"value": vendor["Id"]},
        "TxnDate": "2025-06-01",
        "Line": lines,
        "LinkedTxn": [
            {"TxnId": order["Id"], "TxnType": "PurchaseOrder"},
            {"TxnId": "99999", "TxnType": "PurchaseOrder"},
        ],
    }
    response = await qbo.post("bill", bill)
    assert response.status_code == 400
    error = response.json()["Fault"]["Error"][0]
    assert error["code"] == "610" and error["element"] == "LinkedTxn"
    # no Bill, the known PO still open and untouched, no stock received, no Id used
    assert qbo.company.store == before and qbo.company.next_id == next_id
    assert qbo.company.table("Bill") == {}
    stored_order = qbo.company.require("PurchaseOrder", order["Id"])
    assert stored_order["POStatus"] == "Open" and stored_order["SyncToken"] == "0"
    # indexes were rebuilt: queries and checks see the restored state
    body = await qbo.query("select * from Item where Name = 'Tent 10x20'")
    assert body["QueryResponse"]["Item"][0]["QtyOnHand"] == 10
    # and the same bill without the bad link goes through, with the next Id
    bill["LinkedTxn"] = bill["LinkedTxn"][:1]
    created = await qbo.create("Bill", bill)
    assert created["Id"] == str(next_id)
    assert qbo.company.require("PurchaseOrder", order["Id"])["POStatus"] == "Closed"
    assert (
        qbo.company.require(
            "Item", created["Line"][0]["ItemBasedExpenseLineDetail"]["ItemRef"]["value"]
        )["QtyOnHand"]
        == 15
    )


async def test_failed_update_and_delete_roll_back_in_a_batch(qbo: Qbo) -> None:
    vendor, order, lines = await _stock_and_order(qbo)
    bill = await qbo.create(
        "Bill",
        {
            "VendorRef": {"value": vendor["Id"]},
            "TxnDate": "2025-06-01",
            "Line": lines,
            "LinkedTxn": [{"TxnId": order["Id"], "TxnType": "PurchaseOrder"}],
        },
    )
    tables = ("Bill", "PurchaseOrder", "Item")
    before = {name: copy.deepcopy(qbo.company.table(name)) for name in tables}
    order_ids = list(qbo.company.table("PurchaseOrder"))
    # a batch item that updates the bill to add an unknown PO fails and changes nothing; the
    # next item still runs
    update = {
        **bill,
        "LinkedTxn": [*bill["LinkedTxn"], {"TxnId": "424242", "TxnType": "PurchaseOrder"}],
    }
    batch = await qbo.post(
        "batch",
        {
            "BatchItemRequest": [
                {"bId": "1", "operation": "update", "Bill": update},
                {"bId": "2", "operation": "create", "Vendor": {"DisplayName": "Batch Vendor"}},
            ]
        },
    )
    items = batch.json()["BatchItemResponse"]
    assert items[0]["Fault"]["Error"][0]["code"] == "610" and items[1]["Vendor"]["Id"]
    assert {name: qbo.company.table(name) for name in tables} == before
    assert list(qbo.company.table("PurchaseOrder")) == order_ids
    # deleting the bill, as a user, reopens the PO
    deleted = await qbo.client.post(f"/admin/companies/{qbo.realm}/act/Bill/{bill['Id']}/delete")
    assert deleted.status_code == 200
    assert qbo.company.require("PurchaseOrder", order["Id"])["POStatus"] == "Open"


async def _batch(client: httpx2.AsyncClient, realm: str) -> int:
    body = {"BatchItemRequest": [{"bId": "1", "Query": "select * from Item"}]}
    response = await client.post(f"/v3/company/{realm}/batch", json=body)
    return response.status_code


async def test_batches_are_limited_per_app_and_per_realm(qbo: Qbo) -> None:
    limits = await qbo.client.put(
        f"/admin/companies/{qbo.realm}/limits",
        json={"enabled": True, "batch_per_minute": 2, "realm_batch_per_minute": 3},
    )
    assert limits.json()["realm_batch_per_minute"] == 3
    emulator = qbo.app.emulator
    other = emulator.oauth.register({"redirect_uris": ["https://other.example.com/cb"]})
    token = emulator.oauth.issue_direct(other.client_id, qbo.realm, emulator.now().timestamp())
    async with httpx2.AsyncClient(
        transport=emulator_transport(qbo.app),
        base_url="http://qbo.test",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    ) as second_app:
        first = [await _batch(qbo.client, qbo.realm) for _ in range(3)]
        assert first == [200, 200, 429]  # 2 a minute for this app
        second = [await _batch(second_app, qbo.realm) for _ in range(2)]
        assert second == [200, 429]  # its own 2, but the realm's 3 are used up
        # plain requests are not batches
        assert (await qbo.client.get(qbo.url("preferences"))).status_code == 200
        throttled = await qbo.client.post(qbo.url("batch"), json={"BatchItemRequest": []})
        assert throttled.status_code == 429 and b"ThrottleExceeded" in throttled.content


async def test_realm_limit_default_is_120(qbo: Qbo) -> None:
    limits = await qbo.client.get(f"/admin/companies/{qbo.realm}/limits")
    assert limits.json()["realm_batch_per_minute"] == 120
    assert limits.json()["batch_per_minute"] == 40
