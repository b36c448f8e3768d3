"""R7 purchase orders and subrentals, through the public API, a real worker and the QBO
emulator: the whole lifecycle (draft, approved, partly received and billed, received,
cancelled), subrentals told apart, and the plan failure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rentsync.settings import Settings
from tests.sync_rig import Rig, rig_for
from tests.vendor_fixtures import bill, cents, map_vendor_accounts, purchase_order, ready, vendor


async def put_po(rig: Rig, po_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await rig.put("purchase-orders", po_id, body)
    return await rig.settled("purchase-orders", po_id, revision=response.json()["revision"])


async def the_po(rig: Rig) -> dict[str, Any]:
    (order,) = await rig.qbo_entities("PurchaseOrder")
    return order


async def test_r07_a_subrental_goes_from_draft_to_approved_billed_and_received(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        draft = await put_po(rig, "PO-1", purchase_order(kind="subrental", status="draft"))
        assert draft["state"] == "skipped", draft
        assert draft["skip"]["reason"] == "draft"
        assert await rig.qbo_entities("PurchaseOrder") == []
        approved = await put_po(
            rig, "PO-1", purchase_order(kind="subrental", status="approved", version=2)
        )
        assert approved["state"] == "synced", approved
        order = await the_po(rig)
        (qbo_vendor,) = await rig.qbo_entities("Vendor")
        assert approved["qbo"]["id"] == order["Id"]
        assert order["VendorRef"]["value"] == qbo_vendor["Id"]
        assert order["DocNumber"] == "PO-1"
        assert order["POStatus"] == "Open"
        assert cents(order["TotalAmt"]) == Decimal("160.00")
        assert order["Memo"].startswith("Subrental: pick-up 2026-11-25, return 2026-11-30")
        assert order["PrivateNote"].startswith("Subrental")
        assert ":purchase_order:PO-1]" in order["PrivateNote"]
        line = order["Line"][0]["AccountBasedExpenseLineDetail"]
        assert line["AccountRef"]["value"] == rig.accounts["cogs"]
        # Part of it arrives and is billed: the PO stays open.
        partly = await put_po(
            rig, "PO-1", purchase_order(kind="subrental", status="partially_received", version=3)
        )
        assert partly["state"] == "synced", partly
        await rig.put(
            "vendor-bills", "B-1", bill("ACE-1", amounts=("100.00",), purchase_order_id="PO-1")
        )
        billed = await rig.settled("vendor-bills", "B-1")
        assert billed["state"] == "synced", billed
        (qbo_bill,) = await rig.qbo_entities("Bill")
        assert qbo_bill["LinkedTxn"] == [{"TxnId": order["Id"], "TxnType": "PurchaseOrder"}]
        order = await the_po(rig)
        assert order["POStatus"] == "Open"
        assert {"TxnId": qbo_bill["Id"], "TxnType": "Bill"} in order["LinkedTxn"]
        # Received: closed in QBO.
        received = await put_po(
            rig, "PO-1", purchase_order(kind="subrental", status="received", version=4)
        )
        assert received["state"] == "synced", received
        assert (await the_po(rig))["POStatus"] == "Closed"


async def test_r07_a_cancelled_po_is_deleted_in_qbo_or_closed_when_a_bill_links_it(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        assert (await put_po(rig, "PO-1", purchase_order("PO-1")))["state"] == "synced"
        assert (await put_po(rig, "PO-2", purchase_order("PO-2")))["state"] == "synced"
        await rig.put("vendor-bills", "B-2", bill("ACE-2", purchase_order_id="PO-2"))
        assert (await rig.settled("vendor-bills", "B-2"))["state"] == "synced"
        cancelled = await put_po(rig, "PO-1", purchase_order("PO-1", status="cancelled", version=2))
        assert cancelled["state"] == "synced", cancelled
        assert "deleted in QuickBooks" in cancelled["history"][0]["outcome"]
        kept = await put_po(rig, "PO-2", purchase_order("PO-2", status="cancelled", version=2))
        assert kept["state"] == "synced", kept
        assert "closed in QuickBooks" in kept["history"][0]["outcome"]
        (order,) = await rig.qbo_entities("PurchaseOrder")
        assert order["DocNumber"] == "PO-2" and order["POStatus"] == "Closed"
        # A PO deleted in the rental system goes too.
        assert (await put_po(rig, "PO-3", purchase_order("PO-3")))["state"] == "synced"
        deleted = await rig.api.delete("/api/v1/purchase-orders/PO-3", headers=rig.headers)
        gone = await rig.settled("purchase-orders", "PO-3", revision=deleted.json()["revision"])
        assert gone["state"] == "synced", gone
        assert [o["DocNumber"] for o in await rig.qbo_entities("PurchaseOrder")] == ["PO-2"]


async def test_r07_a_bill_of_a_draft_po_waits_until_the_po_is_approved(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        await put_po(rig, "PO-1", purchase_order(status="draft"))
        await rig.put("vendor-bills", "B-1", bill(purchase_order_id="PO-1"))
        waiting = await rig.settled("vendor-bills", "B-1")
        assert waiting["state"] == "skipped", waiting
        assert waiting["skip"]["reason"] == "waiting_for_document"
        assert await rig.qbo_entities("Bill") == []
        await put_po(rig, "PO-1", purchase_order(version=2))
        billed = await rig.settled("vendor-bills", "B-1", attempts_after=1)
        assert billed["state"] == "synced", billed
        order = await the_po(rig)
        (qbo_bill,) = await rig.qbo_entities("Bill")
        assert qbo_bill["LinkedTxn"] == [{"TxnId": order["Id"], "TxnType": "PurchaseOrder"}]
        # Billed in full (160 of 160): QBO closed it, and the PO's own status still reads true.
        assert order["POStatus"] == "Closed"


async def test_r07_on_essentials_a_po_fails_with_the_plan_remedy_before_anything_is_written(
    settings: Settings,
) -> None:
    async with rig_for(settings, preset={"plan": "essentials"}) as rig:
        await rig.connect()
        await map_vendor_accounts(rig, asset=None)
        await rig.put("vendors", "V-1", vendor())
        failed = await put_po(rig, "PO-1", purchase_order())
        assert failed["state"] == "failed", failed
        assert failed["error"]["code"] == "rentsync_purchase_orders_need_plus"
        assert "Plus" in failed["error"]["remedy"]
        assert await rig.qbo_entities("PurchaseOrder") == []
        assert await rig.qbo_entities("Vendor") == []
