"""R5, R6, R7 + B1 + B2 under faults: 200 vendor bills, 200 vendor payments and 100 purchase
orders through their lifecycle (created, updated, paid in part then in full, voided, deleted;
POs approved, billed, received, cancelled) while QuickBooks drops answers after committing,
fails with 5xx and reports objects in use. QBO ends equal to the source, with no duplicate.
Through the public API, a real worker and the emulator.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

from rentsync.settings import Settings
from tests.requirements.test_r04_payments_under_faults import wait_all
from tests.sync_rig import Rig, rig_for
from tests.vendor_fixtures import cents, map_vendor_accounts, purchase_order, vendor

VENDORS = 20
BILLS, PAYMENTS, POS = 10, 10, 5  # per vendor: 200 bills, 200 payments, 100 POs
FAULTS = {"seed": 20261211, "error_rate": 0.08, "drop_after_commit_rate": 0.08, "locked_rate": 0.04}
FAST = {
    "sync_transient_base_seconds": 0.05,
    "worker_concurrency": 12,
    "qbo_requests_per_minute": 1_000_000,
}
PO_OF_BILL = {0: 0, 1: 0, 2: 2}
"""Bill index -> the PO index it bills: PO 0 billed in full (two bills), PO 2 in part."""
PO_FINAL = {0: "received", 1: "cancelled", 2: "partially_received", 3: "approved", 4: "received"}
PO_FIRST = {3: "draft"}
VOIDED, DELETED = 9, 8
"""Payment indexes voided, and deleted once sent, at every vendor."""


def bill_amount(i: int, *, final: bool) -> Decimal:
    if i in PO_OF_BILL or not final:
        return Decimal("80.00")
    return Decimal("100.00") + i


def bill_body(v: int, i: int, *, final: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "vendor_id": f"V-{v}",
        "number": f"B{v}-{i}",
        "date": "2026-11-24",
        "lines": [{"description": f"Bill {i}", "amount": str(bill_amount(i, final=final))}],
        "version": 2 if final else 1,
    }
    if i in PO_OF_BILL:
        body["purchase_order_id"] = f"PO{v}-{PO_OF_BILL[i]}"
    return body


def payment_body(v: int, k: int, *, final: bool) -> dict[str, Any]:
    amount = bill_amount(k, final=final) if final else Decimal("40.00")
    return {
        "vendor_id": f"V-{v}",
        "bills": [{"bill_id": f"B{v}-{k}", "amount": str(amount)}],
        "date": "2026-11-28",
        "method": ("check", "ach", "credit_card")[k % 3],
        "reference_number": f"P{v}-{k}",
        **({"paid_from_account_id": CARD} if k % 3 == 2 else {}),
        "voided": final and k == VOIDED,
        "version": 2 if final else 1,
    }


CARD = ""  # set from the emulator's chart of accounts in the test


def po_body(v: int, j: int, *, final: bool) -> dict[str, Any]:
    status = PO_FINAL[j] if final else PO_FIRST.get(j, "approved")
    quantity = "50" if final and j == 3 else "40"
    return purchase_order(
        f"PO{v}-{j}",
        vendor_id=f"V-{v}",
        status=status,
        kind="subrental" if j % 2 == 0 else "purchase",
        lines=[("Chiavari chairs", quantity, "4.00")],
        version=2 if final else 1,
    )


async def put_all(rig: Rig, plural: str, bodies: dict[str, dict[str, Any]]) -> dict[str, int]:
    revisions: dict[str, int] = {}
    items = list(bodies.items())
    for start in range(0, len(items), 25):
        batch = items[start : start + 25]
        answers = await asyncio.gather(*(rig.put(plural, sid, body) for sid, body in batch))
        revisions.update(
            {sid: a.json()["revision"] for (sid, _), a in zip(batch, answers, strict=True)}
        )
    return revisions


def sid_of(note: str) -> str:
    return note.rsplit(":", 1)[-1].split("]")[0]


async def test_r05_r06_r07_bills_payments_and_pos_under_faults_end_equal_to_the_source(
    settings: Settings,
) -> None:
    global CARD
    async with rig_for(settings, settings_overrides=FAST) as rig:
        CARD = rig.accounts["card"]
        await rig.connect()
        await map_vendor_accounts(rig)
        await put_all(rig, "vendors", {f"V-{v}": vendor(f"Vendor {v}") for v in range(VENDORS)})
        await rig.faults(FAULTS)

        def bodies(make: Any, count: int, prefix: str, *, final: bool) -> dict[str, Any]:
            return {
                f"{prefix}{v}-{n}": make(v, n, final=final)
                for v in range(VENDORS)
                for n in range(count)
            }

        wanted: dict[tuple[str, str], int] = {}
        for final in (False, True):  # the final states while the first ones are in flight
            for plural, make, count, prefix in (
                ("purchase-orders", po_body, POS, "PO"),
                ("vendor-bills", bill_body, BILLS, "B"),
                ("vendor-payments", payment_body, PAYMENTS, "P"),
            ):
                revisions = await put_all(rig, plural, bodies(make, count, prefix, final=final))
                wanted.update({(plural, sid): rev for sid, rev in revisions.items()})
        first = await wait_all(rig, wanted)
        deleted: dict[tuple[str, str], int] = {}
        for v in range(VENDORS):
            gone = await rig.api.delete(
                f"/api/v1/vendor-payments/P{v}-{DELETED}", headers=rig.headers
            )
            assert gone.status_code == 202, gone.text
            deleted[("vendor-payments", f"P{v}-{DELETED}")] = gone.json()["revision"]
        wanted.update(deleted)
        statuses = {**first, **await wait_all(rig, deleted)}

        plan = (await rig.qbo.get(f"/admin/companies/{rig.realm}/faults")).json()
        await rig.qbo.delete(f"/admin/companies/{rig.realm}/faults")
        not_done = {
            key: (s["state"], s["error"], [h["outcome"] for h in s["history"] or []][:4])
            for key, s in statuses.items()
            if key in wanted
            and not (s["state"] == "synced" and (s["synced_revision"] or 0) >= wanted[key])
        }
        # A draft PO's skip is its final state only before approval; every final one syncs.
        assert not_done == {}, f"{len(not_done)} not synced: {list(not_done.items())[:4]}"
        # Nor did any fail on the way (e.g. a payment sent ahead of its bill's new amount).
        failed_once = {
            key: [h["outcome"] for h in s["history"] or [] if h["outcome"].startswith("failed")]
            for key, s in statuses.items()
        }
        assert not {k: f for k, f in failed_once.items() if f}, "failed on the way"

        vendors = await rig.qbo_entities("Vendor")
        assert sorted(v["DisplayName"] for v in vendors) == sorted(
            f"Vendor {v}" for v in range(VENDORS)
        )
        bills = await rig.qbo_entities("Bill")
        assert Counter(sid_of(b["PrivateNote"]) for b in bills).most_common(1)[0][1] == 1
        assert len(bills) == VENDORS * BILLS
        payments = await rig.qbo_entities("BillPayment")
        notes = Counter(sid_of(p["PrivateNote"]) for p in payments)
        assert notes.most_common(1)[0][1] == 1, notes.most_common(3)
        deleted_ids = {f"P{v}-{DELETED}" for v in range(VENDORS)}
        voided_ids = {f"P{v}-{VOIDED}" for v in range(VENDORS)}
        assert not deleted_ids & set(notes)
        live = {f"P{v}-{k}" for v in range(VENDORS) for k in range(PAYMENTS)}
        assert live - deleted_ids - voided_ids <= set(notes)
        for payment in payments:
            sid = sid_of(payment["PrivateNote"])
            assert payment["PrivateNote"].startswith("Voided") == (sid in voided_ids), payment
            if sid in voided_ids:
                continue
            k = int(sid.rsplit("-", 1)[1])
            assert cents(payment["TotalAmt"]) == bill_amount(k, final=True)
            assert payment["PayType"] == ("CreditCard" if k % 3 == 2 else "Check")
        for qbo_bill in bills:
            sid = sid_of(qbo_bill["PrivateNote"])
            i = int(sid.rsplit("-", 1)[1])
            total = bill_amount(i, final=True)
            assert cents(qbo_bill["TotalAmt"]) == total, qbo_bill
            unpaid = i in (VOIDED, DELETED)
            assert cents(qbo_bill["Balance"]) == (total if unpaid else Decimal("0.00")), qbo_bill
        orders = await rig.qbo_entities("PurchaseOrder")
        by_number = Counter(o["DocNumber"] for o in orders)
        assert by_number.most_common(1)[0][1] == 1
        assert len(orders) == VENDORS * (POS - 1)  # the cancelled one is deleted
        for order in orders:
            j = int(order["DocNumber"].rsplit("-", 1)[1])
            assert j != 1, order
            expected = "Closed" if j in (0, 4) else "Open"
            assert order["POStatus"] == expected, order
            total = Decimal("200.00") if j == 3 else Decimal("160.00")
            assert cents(order["TotalAmt"]) == total
            assert order["Memo"].startswith("Subrental") == (j % 2 == 0)
        assert plan["requests_seen"] > 0
        retried = [
            h["outcome"]
            for s in statuses.values()
            for h in s["history"] or []
            if h["outcome"].startswith("retrying")
        ]
        assert len(retried) > 20, "the faults were hardly exercised"
