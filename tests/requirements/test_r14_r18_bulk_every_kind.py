"""R14, R18, B5: a bulk sync covers every kind of document a company sent before QuickBooks was
connected, not only its orders: payments (with their refunds and voids) follow their orders,
each planned in the preview (counted, with reasons), sent in the bulk lane after its invoice,
and counted in the progress. Through the API, an in-process worker and the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests import vendor_fixtures as vendors
from tests.qbo.test_refresh_survives_kill import serve  # noqa: F401  (the fixture)
from tests.requirements.test_r04_payments import payment, refund
from tests.requirements.test_r18_bulk_sync import BULK, assert_once_in_qbo, backlog, wait_for
from tests.requirements.test_r18_bulk_sync_processes import run_killing_the_worker
from tests.sync_rig import Rig, rig_for


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    async with rig_for(settings) as unconnected:
        yield unconnected


async def planned_items(rig: Rig, bulk_id: int) -> dict[tuple[str, str], dict[str, Any]]:
    response = await rig.api.get(f"{BULK}/{bulk_id}/items?limit=500", headers=rig.headers)
    assert response.status_code == 200, response.text
    return {(item["kind"], item["document_id"]): item for item in response.json()["items"]}


async def orders_with_payments_before_connection(rig: Rig) -> None:
    """Two orders paid (one payment refunded in part, one voided), and a No QuickBooks order
    with a payment, all sent while QuickBooks was not connected (skipped, R13/R14)."""
    await rig.put("customers", "C-1", make.customer())
    await rig.put("customers", "C-2", make.customer("Oak Lane Weddings"))
    await rig.put("products", "P-TENT", make.rental_product())
    await rig.put("orders", "O-1", make.order("5001"))
    await rig.put("orders", "O-2", make.order("5002", customer_id="C-2"))
    await rig.put("orders", "O-3", make.order("5003", no_quickbooks=True))
    await rig.put("payments", "PAY-1", payment("O-1", "200.00", refunds=[refund("RF-1", "50.00")]))
    await rig.put("payments", "PAY-2", payment("O-2", "100.00", voided=True))
    await rig.put("payments", "PAY-3", payment("O-3", "80.00"))
    for plural, source_id in (
        ("orders", "O-1"),
        ("orders", "O-2"),
        ("orders", "O-3"),
        ("payments", "PAY-1"),
        ("payments", "PAY-2"),
        ("payments", "PAY-3"),
    ):
        await rig.settled(plural, source_id)


async def test_r14_payments_refunds_and_voids_made_before_the_connection_follow_their_orders(
    rig: Rig,
) -> None:
    await orders_with_payments_before_connection(rig)
    await rig.connect()
    await rig.map_accounts()

    created = await rig.api.post(BULK, json={"not_in_qbo": True}, headers=rig.headers)
    assert created.status_code == 202, created.text
    bulk_id = created.json()["id"]
    preview = await wait_for(rig, bulk_id, "previewed")
    planned = await planned_items(rig, bulk_id)
    assert {key: (item["planned"], item["reason"]) for key, item in planned.items()} == {
        ("order", "O-1"): ("create", None),
        ("payment", "PAY-1"): ("create", None),
        ("refund", "PAY-1/RF-1"): ("create", None),
        ("order", "O-2"): ("create", None),
        ("payment", "PAY-2"): ("skip", "voided_before_sent"),
        ("payment_void", "PAY-2"): ("skip", "voided_before_sent"),
        ("order", "O-3"): ("skip", "no_quickbooks"),
        ("payment", "PAY-3"): ("skip", "no_quickbooks"),
    }
    # The run's order: each payment right after its order, each refund after its payment.
    order = [key for key, _ in sorted(planned.items(), key=lambda kv: kv[1]["seq"])]
    assert order.index(("payment", "PAY-1")) == order.index(("order", "O-1")) + 1
    assert order.index(("refund", "PAY-1/RF-1")) == order.index(("payment", "PAY-1")) + 1
    summary = preview["preview"]
    assert (summary["documents"], summary["create"], summary["skip"], summary["fail"]) == (
        8,
        4,
        4,
        0,
    )
    # Two invoices (a create each), two customers and a product (look-up + create each), the
    # payment (its look-up, the create, the invoice read back) and the refund (the payment
    # read, the create, the invoice read back); the card's method is resolved once per
    # worker process, not counted per payment.
    assert summary["qbo_operations"] == 2 + 3 * 2 + 3 + 3
    assert await rig.qbo_entities("Payment") == []

    started = await rig.api.post(f"{BULK}/{bulk_id}/start", headers=rig.headers)
    assert started.status_code == 202, started.text
    done = await wait_for(rig, bulk_id, "done")
    progress = done["progress"]
    assert (progress["created"], progress["skipped"], progress["failed"]) == (4, 4, 0)
    assert progress["differs_from_preview"] == 0
    assert progress["waiting"] == progress["in_sync"] == 0
    outcomes = {key: item["outcome"] for key, item in (await planned_items(rig, bulk_id)).items()}
    assert outcomes[("payment", "PAY-1")] == outcomes[("refund", "PAY-1/RF-1")] == "synced"

    invoices = {i["DocNumber"]: i for i in await rig.qbo_entities("Invoice")}
    assert sorted(invoices) == ["5001", "5002"]
    payments = await rig.qbo_entities("Payment")
    assert len(payments) == 1, "each payment once; the voided one never"
    linked = payments[0]["Line"][0]["LinkedTxn"][0]
    assert (linked["TxnType"], linked["TxnId"]) == ("Invoice", invoices["5001"]["Id"])
    assert Decimal(str(payments[0]["TotalAmt"])) == Decimal("200.00")
    assert Decimal(str(invoices["5001"]["Balance"])) == Decimal("250.00")
    assert Decimal(str(invoices["5002"]["Balance"])) == Decimal("450.00")
    receipts = await rig.qbo_entities("RefundReceipt")
    assert [Decimal(str(r["TotalAmt"])) for r in receipts] == [Decimal("50.00")]
    status = await rig.status("payments", "PAY-3")
    assert status["skip"]["reason"] == "no_quickbooks"

    # Everything is in QuickBooks now: a second bulk sync of what it lacks selects nothing.
    again = await rig.api.post(BULK, json={"not_in_qbo": True}, headers=rig.headers)
    second = await wait_for(rig, again.json()["id"], "previewed")
    assert {key for key, _ in (await planned_items(rig, again.json()["id"])).items()} == {
        ("order", "O-3"),
        ("payment", "PAY-2"),
        ("payment_void", "PAY-2"),
        ("payment", "PAY-3"),
    }
    assert second["preview"]["create"] == 0
    # A preview of everything says what QuickBooks already holds, each by its own kind (every
    # kind's was "this version of the invoice").
    everything = await rig.api.post(BULK, json={}, headers=rig.headers)
    await wait_for(rig, everything.json()["id"], "previewed")
    held = {
        key: item["message"]
        for key, item in (await planned_items(rig, everything.json()["id"])).items()
        if item["reason"] == "up_to_date"
    }
    assert held == {
        ("order", "O-1"): "QuickBooks already holds this version of the invoice; nothing to send.",
        ("order", "O-2"): "QuickBooks already holds this version of the invoice; nothing to send.",
        ("payment", "PAY-1"): "QuickBooks already holds this version of the payment; nothing to "
        "send.",
        ("refund", "PAY-1/RF-1"): "QuickBooks already holds this version of the refund; nothing "
        "to send.",
    }


async def test_r18_payments_alone_are_selected_by_their_orders_number(rig: Rig) -> None:
    """`kinds: [payment]` sends the payments of the selected orders, not their invoices: a
    payment whose invoice QuickBooks lacks waits for it (skipped, with the reason)."""
    await orders_with_payments_before_connection(rig)
    await rig.connect()
    await rig.map_accounts()
    created = await rig.api.post(
        BULK, json={"kinds": ["payment"], "numbers": ["5001"]}, headers=rig.headers
    )
    bulk_id = created.json()["id"]
    await wait_for(rig, bulk_id, "previewed")
    planned = await planned_items(rig, bulk_id)
    assert {key: (item["planned"], item["reason"]) for key, item in planned.items()} == {
        ("payment", "PAY-1"): ("skip", "invoice_not_in_qbo"),
        ("refund", "PAY-1/RF-1"): ("skip", "invoice_not_in_qbo"),
    }
    assert "Order 'O-1' is skipped" in planned[("payment", "PAY-1")]["message"]


@pytest.mark.parametrize("kinds", [["invoice"], ["payments"], ["refund"], ["vendor"], []])
async def test_r18_an_unknown_kind_is_422_naming_kinds(rig: Rig, kinds: list[str]) -> None:
    await rig.connect()
    response = await rig.api.post(BULK, json={"kinds": kinds}, headers=rig.headers)
    assert response.status_code == 422, response.text
    assert any("kinds" in error["loc"] for error in response.json()["detail"])


async def test_r14_worker_killed_mid_run_resumes_and_posts_every_invoice_payment_and_refund_once(
    settings: Settings,
    serve: Any,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    """Orders each paid (every third payment refunded in part), and vendors each with a
    purchase order, its bill and the bill's payment, before the connection; the worker is
    SIGKILLed mid-run and a new one started: each document ends in QuickBooks once, each
    payment applied to its own invoice or bill."""
    log = tmp_path / "workers.log"
    async with rig_for(settings, serve=serve, with_worker=False) as rig:
        totals = await backlog(rig, 30, prefix="K")
        refunded = {f"KPAY-{n}" for n in range(0, 30, 3)}
        for number in range(30):
            refunds = [refund(f"RF-{number}", "10.00")] if f"KPAY-{number}" in refunded else []
            await rig.put(
                "payments", f"KPAY-{number}", payment(f"KO-{number}", "25.00", refunds=refunds)
            )
        for number in range(5):
            await rig.put("vendors", f"KV-{number}", vendors.vendor(f"K Vendor {number}"))
            owner = {"vendor_id": f"KV-{number}"}
            await rig.put(
                "purchase-orders", f"KPO-{number}", vendors.purchase_order(f"KPO-{number}", **owner)
            )
            bill = vendors.bill(f"KB-{number}", purchase_order_id=f"KPO-{number}", **owner)
            await rig.put("vendor-bills", f"KB-{number}", bill)
            paid = vendors.vendor_payment({f"KB-{number}": "100.00"}, **owner)
            await rig.put("vendor-payments", f"KVP-{number}", paid)
        await rig.connect()
        await vendors.map_vendor_accounts(rig)
        await rig.faults({"latency": {"distribution": "fixed", "ms": 120}})
        before, done = await run_killing_the_worker(
            rig, log, lambda b: b["progress"]["created"] >= 12, timeout=180
        )
        assert before["progress"]["waiting"] > 0, "killed too late to test a resume"
        assert done["preview"]["create"] == 30 + 30 + len(refunded) + 15
        progress = done["progress"]
        assert (progress["created"], progress["skipped"], progress["failed"]) == (85, 0, 0)
        assert done["progress"]["differs_from_preview"] == 0
        await rig.faults({})
        await assert_once_in_qbo(rig, totals)
        invoice_ids = {i["Id"]: i["DocNumber"] for i in await rig.qbo_entities("Invoice")}
        payments = await rig.qbo_entities("Payment")
        applied = sorted(invoice_ids[p["Line"][0]["LinkedTxn"][0]["TxnId"]] for p in payments)
        assert applied == sorted(totals), "each invoice paid once, by its own payment"
        receipts = await rig.qbo_entities("RefundReceipt")
        assert len(receipts) == len(refunded)
        names = sorted(v["DisplayName"] for v in await rig.qbo_entities("Vendor"))
        assert names == [f"K Vendor {n}" for n in range(5)]
        orders = {o["Id"]: o["DocNumber"] for o in await rig.qbo_entities("PurchaseOrder")}
        assert sorted(orders.values()) == [f"KPO-{n}" for n in range(5)]
        bills = {b["Id"]: b for b in await rig.qbo_entities("Bill")}
        assert sorted(b["DocNumber"] for b in bills.values()) == [f"KB-{n}" for n in range(5)]
        for found in bills.values():
            ordered = [orders.get(link["TxnId"]) for link in found.get("LinkedTxn", [])]
            assert f"KPO-{found['DocNumber'][3:]}" in ordered
        bill_payments = await rig.qbo_entities("BillPayment")
        paid_bills = sorted(
            bills[p["Line"][0]["LinkedTxn"][0]["TxnId"]]["DocNumber"] for p in bill_payments
        )
        assert paid_bills == [f"KB-{n}" for n in range(5)], "each bill paid once"


async def vendor_side_before_connection(rig: Rig) -> None:
    """Two vendors; a purchase order billed by a bill that is partly paid; another vendor's
    bill paid in full; a draft purchase order; all sent before QuickBooks was connected."""
    await rig.put("vendors", "V-1", vendors.vendor())
    await rig.put("vendors", "V-2", vendors.vendor("Bravo Linens"))
    await rig.put("purchase-orders", "PO-1", vendors.purchase_order("PO-1"))
    await rig.put("purchase-orders", "PO-2", vendors.purchase_order("PO-2", status="draft"))
    await rig.put(
        "vendor-bills",
        "B-1",
        vendors.bill("ACE-1", amounts=("100.00",), purchase_order_id="PO-1"),
    )
    await rig.put(
        "vendor-bills",
        "B-2",
        vendors.bill("BRAVO-7", vendor_id="V-2", amounts=("60.00",), category="Subrentals"),
    )
    await rig.put("vendor-payments", "VP-1", vendors.vendor_payment({"B-1": "40.00"}))
    await rig.put(
        "vendor-payments",
        "VP-2",
        vendors.vendor_payment({"B-2": "60.00"}, vendor_id="V-2", reference_number="CHK-2"),
    )
    for plural, source_id in (
        ("purchase-orders", "PO-1"),
        ("purchase-orders", "PO-2"),
        ("vendor-bills", "B-1"),
        ("vendor-bills", "B-2"),
        ("vendor-payments", "VP-1"),
        ("vendor-payments", "VP-2"),
    ):
        await rig.settled(plural, source_id)


async def test_r14_everything_sent_before_the_connection_reaches_quickbooks_once_linked_right(
    rig: Rig,
) -> None:
    """A company with orders, payments (a refund, a void, a No QuickBooks order's payment),
    purchase orders, vendor bills and vendor payments from before the connection bulk-syncs
    everything QuickBooks lacks: the preview counts each, the run sends each once, each after
    what it depends on, linked to it."""
    await orders_with_payments_before_connection(rig)
    await vendor_side_before_connection(rig)
    await rig.connect()
    await vendors.map_vendor_accounts(rig)

    created = await rig.api.post(BULK, json={"not_in_qbo": True}, headers=rig.headers)
    assert created.status_code == 202, created.text
    bulk_id = created.json()["id"]
    preview = await wait_for(rig, bulk_id, "previewed")
    planned = await planned_items(rig, bulk_id)
    vendor_side = {
        key: (item["planned"], item["reason"])
        for key, item in planned.items()
        if key[0] in ("purchase_order", "vendor_bill", "vendor_payment")
    }
    assert vendor_side == {
        ("purchase_order", "PO-1"): ("create", None),
        ("purchase_order", "PO-2"): ("skip", "draft"),
        ("vendor_bill", "B-1"): ("create", None),
        ("vendor_bill", "B-2"): ("create", None),
        ("vendor_payment", "VP-1"): ("create", None),
        ("vendor_payment", "VP-2"): ("create", None),
    }
    order = [key for key, _ in sorted(planned.items(), key=lambda kv: kv[1]["seq"])]
    assert order.index(("purchase_order", "PO-1")) < order.index(("vendor_bill", "B-1"))
    assert order.index(("vendor_bill", "B-1")) < order.index(("vendor_payment", "VP-1"))
    summary = preview["preview"]
    assert (summary["documents"], summary["create"], summary["skip"], summary["fail"]) == (
        14,
        9,
        5,
        0,
    )
    # Orders and payments as above (14); the vendors (2 x 2); the purchase order (the chart
    # of accounts, the create); each bill (the chart, its look-up, the create); each vendor
    # payment (the chart, its look-up, the create, its bill read back).
    assert summary["qbo_operations"] == 14 + 4 + 2 + 3 * 2 + 4 * 2
    assert (await wait_for(rig, bulk_id, "previewed"))["progress"]["references"] == 5

    started = await rig.api.post(f"{BULK}/{bulk_id}/start", headers=rig.headers)
    assert started.status_code == 202, started.text
    done = await wait_for(rig, bulk_id, "done", timeout=60)
    progress = done["progress"]
    assert (progress["created"], progress["skipped"], progress["failed"]) == (9, 5, 0)
    assert progress["differs_from_preview"] == 0

    names = sorted(v["DisplayName"] for v in await rig.qbo_entities("Vendor"))
    assert names == ["Ace Party Supply", "Bravo Linens"], "each vendor once"
    orders = {p["DocNumber"]: p for p in await rig.qbo_entities("PurchaseOrder")}
    assert sorted(orders) == ["PO-1"], "the draft stays out"
    bills = {b["DocNumber"]: b for b in await rig.qbo_entities("Bill")}
    assert sorted(bills) == ["ACE-1", "BRAVO-7"]
    linked = [link["TxnId"] for link in bills["ACE-1"].get("LinkedTxn", [])]
    assert orders["PO-1"]["Id"] in linked, "the bill is linked to its purchase order"
    paid = {
        line["LinkedTxn"][0]["TxnId"]: Decimal(str(line["Amount"]))
        for payment in await rig.qbo_entities("BillPayment")
        for line in payment["Line"]
    }
    assert paid == {
        bills["ACE-1"]["Id"]: Decimal("40.00"),
        bills["BRAVO-7"]["Id"]: Decimal("60.00"),
    }
    assert Decimal(str(bills["ACE-1"]["Balance"])) == Decimal("60.00")
    assert Decimal(str(bills["BRAVO-7"]["Balance"])) == Decimal("0.00")
    assert len(await rig.qbo_entities("Payment")) == 1
    assert len(await rig.qbo_entities("Invoice")) == 2


async def test_r18_vendor_documents_by_kind_date_and_number(rig: Rig) -> None:
    """Each vendor-side kind is selected by its own date and number; a bill whose purchase
    order is neither in QuickBooks nor in the run waits for it; an unmapped account fails."""
    await vendor_side_before_connection(rig)
    await rig.put(
        "vendor-bills", "B-OLD", vendors.bill("ACE-0", amounts=("5.00",), date="2026-10-02")
    )
    await rig.settled("vendor-bills", "B-OLD")
    await rig.connect()
    await vendors.map_vendor_accounts(rig, vendor_payment=None)

    async def selected(selection: dict[str, Any]) -> dict[tuple[str, str], tuple[str, Any]]:
        created = await rig.api.post(BULK, json=selection, headers=rig.headers)
        assert created.status_code == 202, created.text
        await wait_for(rig, created.json()["id"], "previewed")
        found = await planned_items(rig, created.json()["id"])
        return {key: (item["planned"], item["reason"]) for key, item in found.items()}

    assert await selected({"kinds": ["vendor_bill"], "numbers": ["ACE-1"]}) == {
        ("vendor_bill", "B-1"): ("skip", "waiting_for_document"),
    }
    assert await selected({"kinds": ["vendor_bill"], "date_to": "2026-10-31"}) == {
        ("vendor_bill", "B-OLD"): ("create", None),
    }
    assert await selected({"kinds": ["vendor_payment"], "numbers": ["CHK-2"]}) == {
        ("vendor_payment", "VP-2"): ("skip", "waiting_for_document"),
    }
    assert await selected(
        {"kinds": ["vendor_bill", "vendor_payment"], "numbers": ["BRAVO-7", "CHK-2"]}
    ) == {
        ("vendor_bill", "B-2"): ("create", None),
        ("vendor_payment", "VP-2"): ("fail", "rentsync_account_not_mapped"),
    }
    assert await selected({"kinds": ["purchase_order"]}) == {
        ("purchase_order", "PO-1"): ("create", None),
        ("purchase_order", "PO-2"): ("skip", "draft"),
    }
    assert await rig.qbo_entities("Bill") == []
