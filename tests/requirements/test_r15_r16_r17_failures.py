"""R15 retries, R16 errors with QBO's code and a remedy, R17 resync: the seed's stories."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import Rig, rig_for


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    async with rig_for(settings) as connected:
        await connected.connect()
        await connected.map_accounts()
        await connected.put("customers", "C-1", make.customer())
        await connected.put("products", "P-TENT", make.rental_product())
        yield connected


async def test_r16_duplicate_invoice_number_fails_with_6140_and_renumbering_fixes_it(
    rig: Rig,
) -> None:
    await rig.put("orders", "O-1", make.order("6140"))
    assert (await rig.settled("orders", "O-1"))["state"] == "synced"
    await rig.put("orders", "O-2", make.order("6140"))
    failed = await rig.settled("orders", "O-2")
    assert failed["state"] == "failed"
    assert failed["error"]["code"] == "6140"
    assert failed["error"]["category"] == "DuplicateDocNumber"
    assert "number" in failed["error"]["remedy"].lower()
    assert failed["error"]["intuit_tid"]
    assert failed["attempts"] == 2, "the invoice job type has two attempts (R15)"
    renumbered = await rig.put("orders", "O-2", make.order("6141"))
    fixed = await rig.settled("orders", "O-2", revision=renumbered.json()["revision"])
    assert fixed["state"] == "synced"
    assert fixed["error"] is None and fixed["attempts"] == 0
    assert sorted(i["DocNumber"] for i in await rig.qbo_entities("Invoice")) == ["6140", "6141"]


async def test_r17_renumber_in_qbo_then_resync_syncs_the_failed_invoice(rig: Rig) -> None:
    await rig.put("orders", "O-1", make.order("7001"))
    first = await rig.settled("orders", "O-1")
    await rig.put("orders", "O-2", make.order("7001"))
    assert (await rig.settled("orders", "O-2"))["error"]["code"] == "6140"
    # The bookkeeper renumbers the older invoice in QuickBooks, then presses Resync.
    await rig.act("Invoice", first["qbo"]["id"], "edit", {"DocNumber": "7001-OLD"})
    attempts_before = len((await rig.status("orders", "O-2"))["history"])
    resync = await rig.api.post("/api/v1/orders/O-2/resync", headers=rig.headers)
    assert resync.status_code == 202
    fixed = await rig.settled("orders", "O-2", attempts_after=attempts_before)
    assert fixed["state"] == "synced"
    assert fixed["history"][0]["trigger"] == "resync"


async def test_r16_sale_dated_before_inventory_start_fails_with_6270_and_a_date_fix_syncs_it(
    rig: Rig,
) -> None:
    await rig.put("products", "P-NAPKIN", make.sale_product(tracking_start="2026-11-15"))
    early = make.order("6270", lines=[("P-NAPKIN", "10", "12.00")], invoice_date="2026-11-10")
    await rig.put("orders", "O-3", early)
    failed = await rig.settled("orders", "O-3")
    assert failed["state"] == "failed"
    assert failed["error"]["code"] == "6270"
    assert "date" in failed["error"]["remedy"].lower()
    later = make.order("6270", lines=[("P-NAPKIN", "10", "12.00")], invoice_date="2026-11-16")
    fixed = await rig.settled(
        "orders", "O-3", revision=(await rig.put("orders", "O-3", later)).json()["revision"]
    )
    assert fixed["state"] == "synced"


async def test_r15_invoice_locked_in_qbo_is_retried_automatically_and_synced(rig: Rig) -> None:
    await rig.put("orders", "O-4", make.order("8001"))
    synced = await rig.settled("orders", "O-4")
    await rig.faults({"locked": [{"entity": "Invoice", "id": synced["qbo"]["id"]}]})
    update = await rig.put("orders", "O-4", make.order("8001", lines=[("P-TENT", "3", "450.00")]))
    for _ in range(200):
        status = await rig.status("orders", "O-4")
        if status["error"] and status["state"] == "pending":
            break
        await asyncio.sleep(0.02)
    assert status["state"] == "pending", "retrying, not failed"
    assert status["error"]["category"] == "Locked"
    assert status["attempts"] == 0, "a lock does not use up attempts"
    cleared = await rig.qbo.delete(f"/admin/companies/{rig.realm}/faults")  # the user finished
    assert cleared.status_code == 200
    done = await rig.settled("orders", "O-4", revision=update.json()["revision"])
    assert done["state"] == "synced"
    (invoice,) = await rig.qbo_entities("Invoice")
    assert str(invoice["TotalAmt"]) in ("1350.0", "1350.00", "1350")


async def test_r16_system_messages_list_failures_by_code_and_resync_by_code_retries_them(
    rig: Rig,
) -> None:
    await rig.put("orders", "O-1", make.order("9001"))
    await rig.settled("orders", "O-1")
    for source in ("O-2", "O-3"):
        await rig.put("orders", source, make.order("9001"))
        await rig.settled("orders", source)
    await rig.put("orders", "O-4", make.order("9004", no_quickbooks=True))
    await rig.settled("orders", "O-4")
    failed = (
        await rig.api.get("/api/v1/sync/messages", params={"code": "6140"}, headers=rig.headers)
    ).json()["items"]
    assert sorted(m["source_id"] for m in failed) == ["O-2", "O-3"]
    everything = (await rig.api.get("/api/v1/sync/messages", headers=rig.headers)).json()["items"]
    assert sorted(m["source_id"] for m in everything) == ["O-2", "O-3", "O-4"]
    only_skips = (
        await rig.api.get("/api/v1/sync/messages", params={"state": "skipped"}, headers=rig.headers)
    ).json()["items"]
    assert [m["source_id"] for m in only_skips] == ["O-4"]
    resync = await rig.api.post("/api/v1/sync/resync", json={"code": "6140"}, headers=rig.headers)
    assert resync.status_code == 202
    assert resync.json()["scheduled"] == 2
    bad = await rig.api.post("/api/v1/sync/resync", json={"code": ""}, headers=rig.headers)
    assert bad.status_code == 422
