"""B1, R4, R6 under races: a document never reaches QuickBooks ahead of a change, still queued,
of a document it depends on (a vendor payment ahead of its bill's new amount, a customer payment
ahead of its order's new total).

Every change defers a job and a job sends its document's newest snapshot, so a job queued before
the dependency's change can carry a snapshot made after it. Through the public API, a real
worker and the emulator; the queue is held deterministically by a document QuickBooks reports in
use (`locked`) at the head of the same lock, while the race's changes arrive.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.requirements.test_b1_races import delete, eventually
from tests.requirements.test_r04_payments import order_in_qbo, payment
from tests.sync_rig import Rig, rig_for
from tests.vendor_fixtures import bill, cents, ready, vendor_payment


async def _retrying(rig: Rig, plural: str, source_id: str) -> bool:
    status = await rig.status(plural, source_id)
    return status["state"] == "pending" and any(
        h["outcome"].startswith("retrying") for h in status["history"] or []
    )


async def _hold_the_lock(rig: Rig, plural: str, source_id: str, entity: str, body: Any) -> None:
    """`source_id` (in QBO) is changed while QuickBooks reports it in use: its job retries,
    and every later job of its lock waits behind it."""
    qbo_id = (await rig.status(plural, source_id))["qbo"]["id"]
    await rig.faults({"locked": [{"entity": entity, "id": qbo_id}]})
    await rig.put(plural, source_id, body)
    await eventually(lambda: _retrying(rig, plural, source_id), what=f"{source_id} retrying")


async def _bills_in_qbo(rig: Rig) -> None:
    """Ready, with bill B-1 (ACE-1) and the one that holds the vendor's lock (ACE-9) in QBO."""
    await ready(rig)
    for bill_id, number in (("B-1", "ACE-1"), ("B-HOLD", "ACE-9")):
        await rig.put("vendor-bills", bill_id, bill(number, amounts=("80.00",)))
        assert (await rig.settled("vendor-bills", bill_id))["state"] == "synced"


def _outcomes(status: dict[str, Any]) -> list[str]:
    return [h["outcome"] for h in status["history"] or []]


async def test_b1_r06_a_vendor_payment_waits_for_its_bills_queued_new_amount(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await _bills_in_qbo(rig)
        await _hold_the_lock(
            rig, "vendor-bills", "B-HOLD", "Bill", bill("ACE-9", amounts=("81.00",))
        )
        # Queued in this order behind the held job: the payment's first version, the bill's new
        # amount, the payment's final version (which needs the new amount).
        await rig.put("vendor-payments", "VP-1", vendor_payment({"B-1": "40.00"}, version=1))
        raised = await rig.put("vendor-bills", "B-1", bill("ACE-1", amounts=("106.00",)))
        await rig.put("vendor-payments", "VP-1", vendor_payment({"B-1": "106.00"}, version=2))
        await rig.faults({})

        paid = await rig.settled("vendor-payments", "VP-1", revision=2)
        assert paid["state"] == "synced", paid
        assert not any(o.startswith(("failed", "retrying")) for o in _outcomes(paid)), paid
        billed = await rig.status("vendor-bills", "B-1")
        assert billed["synced_revision"] == raised.json()["revision"], billed
        (payment,) = await rig.qbo_entities("BillPayment")
        assert cents(payment["TotalAmt"]) == Decimal("106.00")
        assert payment["SyncToken"] == "0", "written before its bill's new amount"
        by_number = {b["DocNumber"]: b for b in await rig.qbo_entities("Bill")}
        assert cents(by_number["ACE-1"]["TotalAmt"]) == Decimal("106.00")
        assert cents(by_number["ACE-1"]["Balance"]) == Decimal("0.00")


async def test_b1_r04_a_payment_waits_for_its_orders_queued_new_total(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig, number="1001", version=1)
        # The order's own change held (its invoice in use), so its payments queue behind it.
        await _hold_the_lock(
            rig, "orders", "O-1", "Invoice", make.order(version=2, due_date="2026-12-20")
        )
        await rig.put("payments", "PAY-1", payment("O-1", "100.00", version=1))
        raised = make.order(version=3, lines=[("P-TENT", "2", "450.00")])
        await rig.put("orders", "O-1", raised)
        await rig.put("payments", "PAY-1", payment("O-1", "900.00", version=2))
        await rig.faults({})

        paid = await rig.settled("payments", "PAY-1", revision=2)
        assert paid["state"] == "synced", paid
        assert not any(o.startswith(("failed", "retrying")) for o in _outcomes(paid)), paid
        (invoice,) = await rig.qbo_entities("Invoice")
        assert cents(invoice["TotalAmt"]) == Decimal("900.00")
        assert cents(invoice["Balance"]) == Decimal("0.00")
        (qbo_payment,) = await rig.qbo_entities("Payment")
        assert cents(qbo_payment["TotalAmt"]) == Decimal("900.00")
        assert qbo_payment["SyncToken"] == "0", "written before its invoice's new total"


async def test_b1_r05_a_bill_deleted_before_its_payment_waits_for_the_payment_s_deletion(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await _bills_in_qbo(rig)
        await rig.put("vendor-payments", "VP-1", vendor_payment({"B-1": "80.00"}))
        assert (await rig.settled("vendor-payments", "VP-1"))["state"] == "synced"
        await _hold_the_lock(
            rig, "vendor-bills", "B-HOLD", "Bill", bill("ACE-9", amounts=("81.00",))
        )
        # The rental system deletes the bill, then its payment (a cascade, in that order).
        gone = await delete(rig, "vendor-bills", "B-1")
        await delete(rig, "vendor-payments", "VP-1")
        await rig.faults({})

        status = await rig.settled("vendor-bills", "B-1", revision=gone["revision"])
        assert status["state"] == "synced", status
        assert not any(o.startswith(("failed", "retrying")) for o in _outcomes(status)), status
        assert [b["DocNumber"] for b in await rig.qbo_entities("Bill")] == ["ACE-9"]
        assert await rig.qbo_entities("BillPayment") == []


async def test_b1_r04_an_order_deleted_before_its_payment_waits_for_the_payment_s_deletion(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig, number="1001", version=1)
        await rig.put("payments", "PAY-1", payment("O-1", "100.00", version=1))
        assert (await rig.settled("payments", "PAY-1"))["state"] == "synced"
        await _hold_the_lock(
            rig, "orders", "O-1", "Invoice", make.order(version=2, due_date="2026-12-20")
        )
        gone = await delete(rig, "orders", "O-1")
        await delete(rig, "payments", "PAY-1")
        await rig.faults({})

        status = await rig.settled("orders", "O-1", revision=gone["revision"])
        assert status["state"] == "synced", status
        assert not any(o.startswith("failed") for o in _outcomes(status)), status
        assert await rig.qbo_entities("Invoice") == []
        assert await rig.qbo_entities("Payment") == []
