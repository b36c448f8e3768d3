"""B1: no duplicates and the right figures while QuickBooks drops answers after committing and
fails with 5xx, driven through the public HTTP API, a real worker and the emulator."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import Rig, rig_for

ORDERS = 200
VERSIONS = 4  # created, then updated three times
CUSTOMERS = {f"C-{n}": f"Fault Test Customer {n}" for n in range(1, 6)}
PRODUCTS = {
    "P-TENT": make.rental_product("Tent 20x30", "450.00"),
    "P-CHAIR": make.rental_product("Chair, white folding", "2.50"),
    "P-TABLE": make.rental_product("Table, 8 ft", "12.00"),
    "P-LINEN": make.rental_product("Linen, white 90x132", "18.00"),
    "P-DELIVERY": make.fee_product("Delivery", "75.00"),
}
FAULTS = {"seed": 20261125, "error_rate": 0.1, "drop_after_commit_rate": 0.1}
# Fast retries (the production backoff starts at 5 s), enough workers for 800 jobs, and no
# 500-a-minute budget (the emulator's limits are off): the test is about faults, not throttling.
FAST = {
    "sync_transient_base_seconds": 0.05,
    "worker_concurrency": 12,
    "qbo_requests_per_minute": 1_000_000,
}


def order_version(n: int, version: int) -> dict[str, Any]:
    """Order n's body at `version`: every version changes quantities, so each is a new total."""
    products = sorted(PRODUCTS)
    first, second = products[n % len(products)], products[(n + 1 + version) % len(products)]
    lines = [
        (first, str(1 + (n + version) % 4), PRODUCTS[first]["rate"]),
        (second, str(version * 2 + n % 3), PRODUCTS[second]["rate"]),
    ]
    return make.order(
        str(7000 + n),
        customer_id=sorted(CUSTOMERS)[n % len(CUSTOMERS)],
        lines=lines,
        version=version,
        reason="manual_update" if version > 1 else "created",
    )


async def put_all(rig: Rig, bodies: dict[str, dict[str, Any]]) -> dict[str, int]:
    """PUT the bodies a few at a time (as a busy rental system would); the revisions stored."""
    revisions: dict[str, int] = {}
    items = list(bodies.items())
    for start in range(0, len(items), 20):
        batch = items[start : start + 20]
        responses = await asyncio.gather(*(rig.put("orders", sid, body) for sid, body in batch))
        revisions.update(
            {sid: r.json()["revision"] for (sid, _), r in zip(batch, responses, strict=True)}
        )
    return revisions


async def wait_until_synced(
    rig: Rig, revisions: dict[str, int], *, timeout: float
) -> dict[str, dict[str, Any]]:
    """Every order's status once its last revision is synced (or the deadline passes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    statuses: dict[str, dict[str, Any]] = {}
    waiting = set(revisions)
    while waiting and loop.time() < deadline:
        await asyncio.sleep(0.5)
        for sid in sorted(waiting):
            status = await rig.status("orders", sid)
            statuses[sid] = status
            if status["state"] == "failed" or (
                status["state"] == "synced" and (status["synced_revision"] or 0) >= revisions[sid]
            ):
                waiting.discard(sid)
    return statuses


async def first_attempt(rig: Rig, plural: str, source_id: str) -> dict[str, Any]:
    """The status once the document's first sync attempt is recorded (whatever its outcome)."""
    for _ in range(200):
        status = await rig.status(plural, source_id)
        if status["history"]:
            return status
        await asyncio.sleep(0.02)
    raise AssertionError(f"{plural}/{source_id}: no attempt recorded")


async def test_b1_200_orders_updated_three_times_under_faults_give_200_matching_invoices(
    settings: Settings,
) -> None:
    async with rig_for(settings, settings_overrides=FAST) as rig:
        await rig.connect()
        await rig.map_accounts()
        await rig.sync_tax_rates()
        customers_before = len(await rig.qbo_entities("Customer"))
        items_before = len(await rig.qbo_entities("Item"))
        for sid, name in CUSTOMERS.items():
            await rig.put("customers", sid, make.customer(name, email=f"{sid}@example.com"))
        for sid, body in PRODUCTS.items():
            await rig.put("products", sid, body)
        await rig.faults(FAULTS)

        # The first versions each settle before the next (creates, then updates); the last two
        # updates arrive back to back, while the jobs of the one before are in flight.
        revisions: dict[str, int] = {}
        statuses: dict[str, dict[str, Any]] = {}
        for version in range(1, VERSIONS + 1):
            revisions = await put_all(
                rig, {f"O-{n}": order_version(n, version) for n in range(ORDERS)}
            )
            if version < VERSIONS - 1:
                statuses = await wait_until_synced(rig, revisions, timeout=20)
                failed = {
                    sid: [(a["outcome"], (a["detail"] or {}).get("error")) for a in s["history"]]
                    for sid, s in statuses.items()
                    if s["state"] != "synced"
                }
                assert failed == {}, f"version {version}: {list(failed.items())[:3]}"
        statuses = await wait_until_synced(rig, revisions, timeout=20)

        plan = (await rig.qbo.get(f"/admin/companies/{rig.realm}/faults")).json()
        await rig.qbo.delete(f"/admin/companies/{rig.realm}/faults")
        not_synced = {
            sid: (s["state"], s["error"]) for sid, s in statuses.items() if s["state"] != "synced"
        }
        not_synced.update({sid: ("unknown", None) for sid in revisions if sid not in statuses})
        assert not_synced == {}, (
            f"{len(not_synced)} orders not synced: {list(not_synced.items())[:5]}"
        )
        assert all(s["synced_revision"] >= revisions[sid] for sid, s in statuses.items())

        invoices = [i for i in await rig.qbo_entities("Invoice") if i.get("status") != "Deleted"]
        numbers = Counter(str(i["DocNumber"]) for i in invoices)
        assert len(invoices) == ORDERS, (
            f"{len(invoices)} invoices; repeated: {numbers.most_common(3)}"
        )
        assert set(numbers) == {str(7000 + n) for n in range(ORDERS)}
        totals = {str(i["DocNumber"]): Decimal(str(i["TotalAmt"])) for i in invoices}
        expected = {
            str(7000 + n): Decimal(order_version(n, VERSIONS)["totals"]["total"])
            for n in range(ORDERS)
        }
        assert totals == expected
        by_id = {str(i["Id"]): str(i["DocNumber"]) for i in invoices}
        assert {sid: by_id[s["qbo"]["id"]] for sid, s in statuses.items()} == {
            f"O-{n}": str(7000 + n) for n in range(ORDERS)
        }

        customers = await rig.qbo_entities("Customer")
        assert len(customers) - customers_before == len(CUSTOMERS)
        assert sorted(c["DisplayName"] for c in customers[customers_before:]) == sorted(
            CUSTOMERS.values()
        )
        items = await rig.qbo_entities("Item")
        assert len(items) - items_before == len(PRODUCTS)
        assert sorted(i["Name"] for i in items[items_before:]) == sorted(
            p["name"] for p in PRODUCTS.values()
        )
        # The faults really happened: a meaningful share of the requests failed or were dropped.
        assert plan["requests_seen"] > ORDERS * 2


async def test_b1_a_dropped_create_then_a_failed_lookup_still_gives_one_invoice(
    settings: Settings,
) -> None:
    """The create's answer is lost (committed in QBO), then the lookup that should find it fails
    with 5xx twice (the read and its retry): the next try must still not write a second one."""
    async with rig_for(settings, settings_overrides=FAST) as rig:
        await rig.connect()
        await rig.map_accounts()
        await rig.put("customers", "C-1", make.customer())
        await rig.put("products", "P-TENT", make.rental_product())
        await rig.put("orders", "O-1", make.order("8001"))
        assert (await rig.settled("orders", "O-1"))["state"] == "synced"
        await rig.faults({"next": ["drop", "error", "error"]})
        await rig.put("orders", "O-2", make.order("8002"))
        status = await rig.settled("orders", "O-2", timeout=10)
        outcomes = [a["outcome"] for a in reversed(status["history"])]
        assert outcomes[:2] == ["retrying: UncertainOutcome", "retrying: 10000"], outcomes
        assert status["state"] == "synced", status
        numbers = [i["DocNumber"] for i in await rig.qbo_entities("Invoice")]
        assert sorted(numbers) == ["8001", "8002"]


async def test_b1_an_order_updated_after_a_dropped_create_gets_the_new_totals_in_one_invoice(
    settings: Settings,
) -> None:
    """The create's answer is lost and the order changes before the retry: the retry finds the
    invoice it created (with the old figures) and must bring it to the new version."""
    slow_retry = {**FAST, "sync_transient_base_seconds": 1.0}
    async with rig_for(settings, settings_overrides=slow_retry) as rig:
        await rig.connect()
        await rig.map_accounts()
        await rig.put("customers", "C-1", make.customer())
        await rig.put("products", "P-TENT", make.rental_product())
        await rig.put("orders", "O-1", make.order("8101"))
        assert (await rig.settled("orders", "O-1"))["state"] == "synced"
        await rig.faults({"next": ["drop"]})
        await rig.put("orders", "O-2", make.order("8102", version=1))
        dropped = await first_attempt(rig, "orders", "O-2")
        assert dropped["history"][0]["outcome"] == "retrying: UncertainOutcome", dropped
        updated = make.order("8102", lines=[("P-TENT", "3", "450.00")], version=2)
        revision = (await rig.put("orders", "O-2", updated)).json()["revision"]
        status = await rig.settled("orders", "O-2", revision=revision, timeout=10)
        assert status["state"] == "synced", status
        outcomes = [a["outcome"] for a in reversed(status["history"])]
        assert outcomes == ["retrying: UncertainOutcome", "synced"], outcomes
        invoices = [i for i in await rig.qbo_entities("Invoice") if i["DocNumber"] == "8102"]
        assert len(invoices) == 1
        assert Decimal(str(invoices[0]["TotalAmt"])) == Decimal("1350.00")
