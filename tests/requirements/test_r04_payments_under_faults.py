"""R4 + B1 + B2: many payments, refunds and voids while QuickBooks drops answers after
committing, fails with 5xx and reports objects in use; QBO ends with the source's totals and
no duplicate. Through the public API, a real worker and the emulator: the issue's 300
payments with 60 refunds and 30 voids (about 15 s).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.requirements.test_r04_payments import cents, figures
from tests.sync_rig import Rig, rig_for

PAYMENTS = 300
PER_ORDER = 3
ORDERS = PAYMENTS // PER_ORDER
REFUND_EVERY = 5  # every 5th payment gets a refund: 60 of 300
VOID_EVERY = 10  # every 10th payment is voided: 30 of 300 (half of them refunded first)
ORDER_TOTAL = Decimal("450.00")
AMOUNTS = (Decimal("100.00"), Decimal("120.00"), Decimal("80.00"))
METHODS = ("card", "cash", "check", "ach")
FAULTS = {"seed": 20261205, "error_rate": 0.08, "drop_after_commit_rate": 0.08, "locked_rate": 0.04}
FAST = {
    "sync_transient_base_seconds": 0.05,
    "worker_concurrency": 12,
    "qbo_requests_per_minute": 1_000_000,
}


def payment_body(n: int, *, final: bool) -> dict[str, Any]:
    """Payment n: first as collected; in its final state with its refund and its void."""
    refunds = []
    if final and n % REFUND_EVERY == 0:
        refunds = [
            {
                "id": f"RF-{n}",
                "amount": "30.00",
                "date": "2026-11-28",
                "method": METHODS[n % len(METHODS)],
                "reason": "Partial refund",
            }
        ]
    return {
        "order_id": f"O-{n // PER_ORDER}",
        "amount": str(AMOUNTS[n % PER_ORDER]),
        "date": "2026-11-21",
        "method": METHODS[n % len(METHODS)],
        "reference_number": f"REF-{n}",
        "refunds": refunds,
        "voided": final and n % VOID_EVERY == 0,
        "version": 2 if final else 1,
    }


def documents(bodies: dict[str, dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Every document the final bodies make (payments, refunds, voids) -> 0 (revision unknown)."""
    found: dict[tuple[str, str], int] = {}
    for sid, body in bodies.items():
        found[("payments", sid)] = 0
        if body["voided"]:
            found[("payment-voids", sid)] = 0
            continue  # a voided payment's refunds are parts it no longer has
        for refund in body["refunds"]:
            found[("refunds", f"{sid}/{refund['id']}")] = 0
    return found


async def put_payments(rig: Rig, bodies: dict[str, dict[str, Any]]) -> dict[str, int]:
    revisions: dict[str, int] = {}
    items = list(bodies.items())
    for start in range(0, len(items), 25):
        batch = items[start : start + 25]
        answers = await asyncio.gather(*(rig.put("payments", sid, body) for sid, body in batch))
        revisions.update(
            {sid: a.json()["revision"] for (sid, _), a in zip(batch, answers, strict=True)}
        )
    return revisions


STALL_SECONDS = 120.0
"""`wait_all` gives up once none of the documents it waits for has moved (a new state, attempt
or revision) for this long. Not a time limit on the work: on a loaded machine it takes longer,
and the test waits for it; a stall means something is stuck."""


async def wait_all(
    rig: Rig, wanted: dict[tuple[str, str], int], *, stall_seconds: float = STALL_SECONDS
) -> dict[tuple[str, str], dict[str, Any]]:
    """Poll until each document has failed or synced its wanted revision, for as long as any
    of them moves; the statuses as last seen."""
    loop = asyncio.get_running_loop()
    last_move = loop.time()
    seen: dict[tuple[str, str], tuple[Any, ...]] = {}
    statuses: dict[tuple[str, str], dict[str, Any]] = {}
    waiting = set(wanted)
    while waiting and loop.time() - last_move < stall_seconds:
        await asyncio.sleep(0.5)
        checks = sorted(waiting)
        answers = await asyncio.gather(*(rig.status(plural, sid) for plural, sid in checks))
        for key, status in zip(checks, answers, strict=True):
            statuses[key] = status
            mark = (status["state"], status["synced_revision"], len(status["history"] or []))
            if seen.get(key) != mark:
                seen[key], last_move = mark, loop.time()
            if status["state"] == "failed" or (
                status["state"] == "synced" and (status["synced_revision"] or 0) >= wanted[key]
            ):
                waiting.discard(key)
    return statuses


async def test_r04_payments_refunds_and_voids_under_faults_end_with_the_source_totals(
    settings: Settings,
) -> None:
    async with rig_for(settings, settings_overrides=FAST) as rig:
        await rig.ready_with_catalogue()
        orders = {f"O-{n}": make.order(str(9000 + n)) for n in range(ORDERS)}
        answers = await asyncio.gather(
            *(rig.put("orders", sid, body) for sid, body in orders.items())
        )
        placed = {
            ("orders", sid): a.json()["revision"] for sid, a in zip(orders, answers, strict=True)
        }
        synced = await wait_all(rig, placed)
        assert {s["state"] for s in synced.values()} == {"synced"}
        assert len(synced) == ORDERS
        await rig.faults(FAULTS)

        first = {f"PAY-{n}": payment_body(n, final=False) for n in range(PAYMENTS)}
        final = {f"PAY-{n}": payment_body(n, final=True) for n in range(PAYMENTS)}
        await put_payments(rig, first)
        revisions = await put_payments(rig, final)  # while the first ones are in flight
        wanted = documents(final)
        wanted.update({("payments", sid): rev for sid, rev in revisions.items()})
        statuses = await wait_all(rig, wanted)

        plan = (await rig.qbo.get(f"/admin/companies/{rig.realm}/faults")).json()
        await rig.qbo.delete(f"/admin/companies/{rig.realm}/faults")
        not_done = {
            key: (s["state"], s["error"], [h["outcome"] for h in s["history"] or []][:4])
            for key, s in statuses.items()
            if key in wanted
            and not (s["state"] == "synced" and (s["synced_revision"] or 0) >= wanted[key])
        }
        assert not_done == {}, f"{len(not_done)} not synced: {list(not_done.items())[:4]}"

        payments = await rig.qbo_entities("Payment")
        markers = Counter(p["PrivateNote"].removeprefix("Voided - ") for p in payments)
        assert max(markers.values()) == 1, markers.most_common(3)
        by_id = {note.rsplit(":", 1)[-1].rstrip("]"): note for note in markers}
        voided_ids = {sid for sid, body in final.items() if body["voided"]}
        # Every payment not voided is in QBO; a voided one is voided there, or was never sent
        # (voided before its first job ran).
        assert set(final) - voided_ids <= set(by_id)
        for payment in payments:
            sid = payment["PrivateNote"].rsplit(":", 1)[-1].rstrip("]")
            assert payment["PrivateNote"].startswith("Voided") == (sid in voided_ids), payment
        receipts = await rig.qbo_entities("RefundReceipt")
        live_refunds = [r for body in final.values() if not body["voided"] for r in body["refunds"]]
        notes = Counter(r["PrivateNote"] for r in receipts)
        assert len(receipts) == len(live_refunds) and max(notes.values()) == 1
        assert len([m for m in await rig.qbo_entities("PaymentMethod") if m["Name"] == "ACH"]) == 1

        applied = sum((Decimal(b["amount"]) for b in final.values() if not b["voided"]), Decimal(0))
        refunded = sum((Decimal(r["amount"]) for r in live_refunds), Decimal(0))
        got = await figures(rig, rig.accounts["undeposited"])
        assert got["invoice_balance"] == ORDER_TOTAL * ORDERS - applied
        assert got["customer_balance"] == ORDER_TOTAL * ORDERS - applied
        assert got["deposit"] == applied - refunded
        assert got["income"] == ORDER_TOTAL * ORDERS - refunded
        assert cents(sum(cents(p["TotalAmt"]) for p in payments)) == applied
        assert plan["requests_seen"] > 0
        retried = [
            h["outcome"]
            for s in statuses.values()
            for h in s["history"] or []
            if h["outcome"].startswith("retrying")
        ]
        assert len(retried) > 20, "the faults were hardly exercised"
