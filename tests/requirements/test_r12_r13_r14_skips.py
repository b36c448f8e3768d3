"""R12 No QuickBooks, R13 not connected, R14 documents created before the connection: every
skip is recorded with its reason and visible."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import Rig, rig_for


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    async with rig_for(settings) as unconnected:
        yield unconnected


async def catalogue(rig: Rig) -> None:
    await rig.put("customers", "C-1", make.customer())
    await rig.put("products", "P-TENT", make.rental_product())


async def test_r12_no_quickbooks_order_is_skipped_and_never_reaches_qbo(rig: Rig) -> None:
    await rig.connect()
    await rig.map_accounts()
    await catalogue(rig)
    await rig.put("orders", "O-1", make.order("3001", no_quickbooks=True))
    status = await rig.settled("orders", "O-1")
    assert status["state"] == "skipped"
    assert status["skip"]["reason"] == "no_quickbooks"
    assert status["skip"]["message"] == "The order is marked No QuickBooks."
    assert "clear No QuickBooks" in status["skip"]["remedy"]
    assert await rig.qbo_entities("Invoice") == []
    assert await rig.qbo_entities("Customer") == [], "not even its customer"


async def test_r13_not_connected_is_a_recorded_skip(rig: Rig) -> None:
    await catalogue(rig)
    await rig.put("orders", "O-1", make.order("3002"))
    status = await rig.settled("orders", "O-1")
    assert status["state"] == "skipped"
    assert status["skip"]["reason"] == "not_connected"
    assert status["skip"]["message"] == "QuickBooks not connected."
    messages = (await rig.api.get("/api/v1/sync/messages", headers=rig.headers)).json()["items"]
    assert [(m["source_id"], m["skip"]["reason"]) for m in messages] == [("O-1", "not_connected")]


async def test_r13_after_disconnect_syncs_skip_until_reconnected(rig: Rig) -> None:
    await rig.connect()
    await rig.map_accounts()
    await catalogue(rig)
    gone = await rig.api.delete("/api/v1/qbo/connection", headers=rig.headers)
    assert gone.status_code == 200
    await rig.put("orders", "O-1", make.order("3003"))
    assert (await rig.settled("orders", "O-1"))["skip"]["reason"] == "not_connected"


async def test_r14_order_created_before_connection_waits_for_an_update(rig: Rig) -> None:
    await catalogue(rig)
    await rig.put("orders", "O-1", make.order("3004"))
    assert (await rig.settled("orders", "O-1"))["skip"]["reason"] == "not_connected"
    await rig.connect()
    await rig.map_accounts()
    # An automatic change (auto-extension) does not release it ...
    auto = await rig.put("orders", "O-1", make.order("3004", reason="auto_extended"))
    waiting = await rig.settled("orders", "O-1", revision=auto.json()["revision"])
    assert waiting["state"] == "skipped"
    assert waiting["skip"]["reason"] == "created_before_connection"
    assert await rig.qbo_entities("Invoice") == []
    # ... the user's Update does.
    update = await rig.put("orders", "O-1", make.order("3004"))
    synced = await rig.settled("orders", "O-1", revision=update.json()["revision"])
    assert synced["state"] == "synced"
    assert len(await rig.qbo_entities("Invoice")) == 1


async def test_r14_resync_releases_an_order_created_before_connection(rig: Rig) -> None:
    await catalogue(rig)
    await rig.put("orders", "O-2", make.order("3005"))
    await rig.settled("orders", "O-2")
    await rig.connect()
    await rig.map_accounts()
    resynced = await rig.api.post("/api/v1/orders/O-2/resync", headers=rig.headers)
    assert resynced.status_code == 202
    status = await rig.settled("orders", "O-2", attempts_after=1)
    assert status["state"] == "synced"


async def test_r13_r14_i9_skip_messages_follow_the_current_facts_when_shown(rig: Rig) -> None:
    """A skip recorded while QuickBooks was not connected stops saying so once it is; no message
    offers a command that does not exist; the one bulk way it names works."""
    await catalogue(rig)
    await rig.put("orders", "O-1", make.order("3006"))
    await rig.put("orders", "O-2", make.order("3007"))
    before = await rig.settled("orders", "O-1")
    assert before["skip"]["message"] == "QuickBooks not connected."
    await rig.connect()
    await rig.map_accounts()
    after = (await rig.status("orders", "O-1"))["skip"]
    assert after["reason"] == "not_connected"  # what happened then ...
    assert "connected now" in after["message"]  # ... told with today's facts
    assert "Connect QuickBooks" not in after["remedy"]
    listed = (await rig.api.get("/api/v1/sync/messages", headers=rig.headers)).json()["items"]
    assert all("connected now" in item["skip"]["message"] for item in listed)
    auto = await rig.put("orders", "O-2", make.order("3007", reason="auto_extended"))
    waiting = await rig.settled("orders", "O-2", revision=auto.json()["revision"])
    skip = waiting["skip"]
    assert skip["reason"] == "created_before_connection"
    assert "bulk-sync" not in skip["message"] + skip["remedy"]
    assert "POST /api/v1/sync/resync" in skip["remedy"]
    bulk = await rig.api.post(
        "/api/v1/sync/resync", json={"code": "created_before_connection"}, headers=rig.headers
    )
    assert bulk.status_code == 202 and bulk.json()["documents"] == ["order:O-2"]
    assert (await rig.settled("orders", "O-2", attempts_after=1))["state"] == "synced"
