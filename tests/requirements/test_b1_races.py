"""B1, R3, R15, R19 under races: nothing left behind in QBO, nothing stale, nothing resurrected.

Each test is one reproduction from outside testing (issue 8), through the public HTTP API and a
real worker; the emulator's fault plan makes the race deterministic (`next` queues one-shot
faults for the next requests, in order; a drop queued for a read is spent without effect).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import Rig, rig_for

# Retries after a lost answer come quickly (production starts at 5 s), slowly enough that the
# test can act between the first attempt and the retry.
RETRY_AFTER_DROP = {"sync_transient_base_seconds": 1.0}


async def eventually(check: Callable[[], Awaitable[Any]], *, what: str, timeout: float = 20) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


async def delete(rig: Rig, plural: str, source_id: str, **params: Any) -> dict[str, Any]:
    response = await rig.api.delete(
        f"/api/v1/{plural}/{source_id}", headers=rig.headers, params=params
    )
    assert response.status_code in (200, 202), response.text
    return dict(response.json())


async def requests_seen(rig: Rig) -> int:
    plan = (await rig.qbo.get(f"/admin/companies/{rig.realm}/faults")).json()
    return int(plan["requests_seen"])


async def retrying(rig: Rig, plural: str, source_id: str) -> bool:
    history = (await rig.status(plural, source_id))["history"] or []
    return any(h["outcome"].startswith("retrying") for h in history)


async def settled_reference(
    rig: Rig, plural: str, source_id: str, *, revision: int
) -> dict[str, Any]:
    """A customer's or product's status once it is synced at `revision` or later."""

    async def check() -> dict[str, Any] | None:
        status = await rig.status(plural, source_id)
        if status["state"] == "synced" and (status["synced_revision"] or 0) >= revision:
            return status
        return None

    found: dict[str, Any] = await eventually(check, what=f"{plural}/{source_id} at r{revision}")
    return found


async def with_marker(rig: Rig, entity: str, marker: str, field: str) -> list[dict[str, Any]]:
    return [e for e in await rig.qbo_entities(entity) if marker in str(e.get(field) or "")]


async def synced_first_order(rig: Rig) -> None:
    """C-1 and P-TENT in QBO through a first order, so later orders need no reference writes."""
    await rig.ready_with_catalogue()
    await rig.put("orders", "O-0", make.order("8000"))
    assert (await rig.settled("orders", "O-0"))["state"] == "synced"


async def test_b1_a_delete_refused_once_as_in_use_is_retried_with_a_new_requestid(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await synced_first_order(rig)
        await rig.put("orders", "O-1", make.order("8001"))
        synced = await rig.settled("orders", "O-1")
        await rig.faults({"next": ["locked"]})  # the delete: 6000 "in use by another user"
        deleted = await delete(rig, "orders", "O-1")
        done = await rig.settled("orders", "O-1", revision=deleted["revision"], timeout=15)
        assert done["state"] == "synced", done
        assert any(h["outcome"].startswith("retrying: 6000") for h in done["history"])
        invoices = {i["Id"] for i in await rig.qbo_entities("Invoice")}
        assert synced["qbo"]["id"] not in invoices, "the refused delete was never sent again"
        assert done["qbo"] is None


async def test_b1_an_order_deleted_after_its_create_answer_was_lost_is_deleted_in_qbo(
    settings: Settings,
) -> None:
    async with rig_for(settings, settings_overrides=RETRY_AFTER_DROP) as rig:
        await synced_first_order(rig)
        await rig.faults({"next": ["drop"]})  # the invoice create: committed, answer lost
        await rig.put("orders", "O-2", make.order("8002"))
        await eventually(lambda: retrying(rig, "orders", "O-2"), what="the lost answer")
        assert await with_marker(rig, "Invoice", ":order:O-2]", "PrivateNote"), "in QBO"
        deleted = await delete(rig, "orders", "O-2")
        done = await rig.settled("orders", "O-2", revision=deleted["revision"])
        assert done["state"] == "synced", done
        assert await with_marker(rig, "Invoice", ":order:O-2]", "PrivateNote") == [], (
            "the invoice the lost answer created was left in QuickBooks"
        )


async def test_b1_an_order_deleted_then_sent_again_unchanged_gets_a_new_invoice(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await synced_first_order(rig)
        body = make.order("8003")
        await rig.put("orders", "O-3", body)
        first = await rig.settled("orders", "O-3")
        deleted = await delete(rig, "orders", "O-3")
        await rig.settled("orders", "O-3", revision=deleted["revision"])
        assert await with_marker(rig, "Invoice", ":order:O-3]", "PrivateNote") == []
        restored = await rig.put("orders", "O-3", body)
        done = await rig.settled("orders", "O-3", revision=restored.json()["revision"])
        assert done["state"] == "synced", done
        (invoice,) = await with_marker(rig, "Invoice", ":order:O-3]", "PrivateNote")
        assert done["qbo"]["id"] == invoice["Id"] != first["qbo"]["id"]


async def _customer_create_lost_then_changed(
    rig: Rig, change: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Order O-4 needs the new customer C-4, whose create is committed but its answer lost;
    then the customer changes. Returns the customer's final status and QBO's customers
    carrying its marker."""
    await synced_first_order(rig)
    await rig.put("customers", "C-4", make.customer("Lakeside Weddings"))
    # The DisplayName lookup (a read: the drop is spent), then the create (dropped).
    await rig.faults({"next": ["drop", "drop"]})
    await rig.put("orders", "O-4", make.order("8004", customer_id="C-4"))
    await eventually(lambda: retrying(rig, "orders", "O-4"), what="the lost customer answer")
    changed = await rig.put("customers", "C-4", make.customer(**change))
    order = await rig.settled("orders", "O-4")
    assert order["state"] == "synced", order
    status = await settled_reference(rig, "customers", "C-4", revision=changed.json()["revision"])
    marked = await with_marker(rig, "Customer", ":customer:C-4]", "Notes")
    return status, marked


async def test_b1_a_customer_whose_create_answer_was_lost_gets_its_later_update(
    settings: Settings,
) -> None:
    async with rig_for(settings, settings_overrides=RETRY_AFTER_DROP) as rig:
        status, marked = await _customer_create_lost_then_changed(
            rig, {"name": "Lakeside Weddings", "email": "new@lakeside.example"}
        )
        (customer,) = marked
        assert customer["PrimaryEmailAddr"]["Address"] == "new@lakeside.example"
        assert status["qbo"]["id"] == customer["Id"]


async def test_b1_a_customer_renamed_after_its_create_answer_was_lost_is_not_created_twice(
    settings: Settings,
) -> None:
    async with rig_for(settings, settings_overrides=RETRY_AFTER_DROP) as rig:
        status, marked = await _customer_create_lost_then_changed(
            rig, {"name": "Lakeside Weddings & Events"}
        )
        assert len(marked) == 1, [c["DisplayName"] for c in marked]
        assert marked[0]["DisplayName"] == "Lakeside Weddings & Events"
        assert status["qbo"]["id"] == marked[0]["Id"]
        (invoice,) = await with_marker(rig, "Invoice", ":order:O-4]", "PrivateNote")
        assert invoice["CustomerRef"]["value"] == marked[0]["Id"]


async def test_b1_a_customer_updated_while_an_order_creates_it_reaches_qbo(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await synced_first_order(rig)
        await rig.put("customers", "C-6", make.customer("Hilltop Gala"))
        await rig.faults({"latency": {"distribution": "fixed", "ms": 1500}})
        before = await requests_seen(rig)  # a new plan counts from 0
        await rig.put("orders", "O-6", make.order("8006", customer_id="C-6"))
        # The DisplayName lookup, then the create: once the create is in flight, update.
        await eventually(
            lambda: _at_least(rig, before + 2), what="the customer create in flight", timeout=10
        )
        changed = await rig.put(
            "customers", "C-6", make.customer("Hilltop Gala", email="gala@hilltop.example")
        )
        await rig.faults({})
        assert (await rig.settled("orders", "O-6"))["state"] == "synced"
        status = await settled_reference(
            rig, "customers", "C-6", revision=changed.json()["revision"]
        )
        (customer,) = await with_marker(rig, "Customer", ":customer:C-6]", "Notes")
        assert customer["PrimaryEmailAddr"]["Address"] == "gala@hilltop.example"
        assert status["qbo"]["id"] == customer["Id"]


async def _at_least(rig: Rig, count: int) -> bool:
    return await requests_seen(rig) >= count


async def test_b1_a_late_older_put_after_a_delete_does_not_bring_the_order_back(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await synced_first_order(rig)
        await rig.put("orders", "O-7", make.order("8007", version=2))
        await rig.put(
            "orders", "O-7", make.order("8007", version=3, lines=[("P-TENT", "2", "450.00")])
        )
        deleted = await delete(rig, "orders", "O-7")
        await rig.settled("orders", "O-7", revision=deleted["revision"])
        for late in (2, 3):
            answer = await rig.put("orders", "O-7", make.order("8007", version=late))
            assert answer.status_code == 200 and answer.json()["accepted"] is False, answer.text
        status = await rig.status("orders", "O-7")
        assert status["deleted"] is True and status["revision"] == deleted["revision"]
        await asyncio.sleep(0.5)  # give a wrongly scheduled job the time to post
        assert await with_marker(rig, "Invoice", ":order:O-7]", "PrivateNote") == []
        # A newer version is a real restore.
        restored = await rig.put("orders", "O-7", make.order("8007", version=4))
        assert restored.json()["accepted"] is True
        assert (await rig.settled("orders", "O-7", revision=restored.json()["revision"]))[
            "state"
        ] == "synced"
        assert len(await with_marker(rig, "Invoice", ":order:O-7]", "PrivateNote")) == 1


async def test_b1_a_delete_older_than_the_stored_version_is_ignored(settings: Settings) -> None:
    async with rig_for(settings) as rig:
        await synced_first_order(rig)
        await rig.put("orders", "O-9", make.order("8009", version=5))
        await rig.settled("orders", "O-9")
        late = await delete(rig, "orders", "O-9", version=4)
        assert late["accepted"] is False
        assert (await rig.status("orders", "O-9"))["deleted"] is False
        bad = await rig.api.delete(
            "/api/v1/orders/O-9", headers=rig.headers, params={"version": "soon"}
        )
        assert bad.status_code == 422 and "version" in bad.text


async def test_b1_a_customer_whose_create_answer_was_lost_is_known_after_the_order_moves(
    settings: Settings,
) -> None:
    async with rig_for(settings, settings_overrides=RETRY_AFTER_DROP) as rig:
        await synced_first_order(rig)
        await rig.put("customers", "C-A", make.customer("Orchard Fair"))
        await rig.put("customers", "C-B", make.customer("Riverside Picnic Co"))
        await rig.faults({"next": ["drop", "drop"]})  # C-A's lookup, then its create (lost)
        await rig.put("orders", "O-8", make.order("8008", customer_id="C-A"))
        await eventually(lambda: retrying(rig, "orders", "O-8"), what="the lost customer answer")
        moved = await rig.put("orders", "O-8", make.order("8008", customer_id="C-B"))
        order = await rig.settled("orders", "O-8", revision=moved.json()["revision"])
        assert order["state"] == "synced", order
        (customer_a,) = await with_marker(rig, "Customer", ":customer:C-A]", "Notes")
        status_a = await settled_reference(rig, "customers", "C-A", revision=1)
        assert status_a["qbo"]["id"] == customer_a["Id"], "QBO holds a customer the ledger lost"
        (customer_b,) = await with_marker(rig, "Customer", ":customer:C-B]", "Notes")
        (invoice,) = await with_marker(rig, "Invoice", ":order:O-8]", "PrivateNote")
        assert invoice["CustomerRef"]["value"] == customer_b["Id"]


async def test_b1_a_customer_update_whose_answer_was_lost_then_changed_again_reaches_qbo(
    settings: Settings,
) -> None:
    # Chaos run (seed 2): the ledger keeps the SyncToken from before the lost update, so the
    # next revision's update is refused as stale (5010) and must be written over the current one.
    async with rig_for(settings, settings_overrides=RETRY_AFTER_DROP) as rig:
        await synced_first_order(rig)
        await rig.faults({"next": ["drop"]})  # the customer's update: committed, answer lost
        await rig.put("customers", "C-1", make.customer(email="first@maplestreet.example"))
        await eventually(lambda: retrying(rig, "customers", "C-1"), what="the lost update")
        changed = await rig.put(
            "customers", "C-1", make.customer(email="second@maplestreet.example")
        )
        status = await settled_reference(
            rig, "customers", "C-1", revision=changed.json()["revision"]
        )
        (customer,) = await with_marker(rig, "Customer", ":customer:C-1]", "Notes")
        assert customer["PrimaryEmailAddr"]["Address"] == "second@maplestreet.example"
        assert status["qbo"]["id"] == customer["Id"]


async def test_b1_an_order_update_whose_answer_was_lost_then_changed_again_reaches_qbo(
    settings: Settings,
) -> None:
    async with rig_for(settings, settings_overrides=RETRY_AFTER_DROP) as rig:
        await synced_first_order(rig)
        await rig.put("orders", "O-U", make.order("8010"))
        await rig.settled("orders", "O-U")
        await rig.faults({"next": ["drop"]})  # the invoice update: committed, answer lost
        await rig.put("orders", "O-U", make.order("8010", lines=[("P-TENT", "2", "450.00")]))
        await eventually(lambda: retrying(rig, "orders", "O-U"), what="the lost update")
        changed = await rig.put(
            "orders", "O-U", make.order("8010", lines=[("P-TENT", "3", "450.00")])
        )
        done = await rig.settled("orders", "O-U", revision=changed.json()["revision"])
        assert done["state"] == "synced", done
        (invoice,) = await with_marker(rig, "Invoice", ":order:O-U]", "PrivateNote")
        assert Decimal(str(invoice["TotalAmt"])) == Decimal("1350.00")
        assert done["qbo"]["id"] == invoice["Id"]


async def test_b1_an_order_restored_after_its_delete_answer_was_lost_gets_a_new_invoice(
    settings: Settings,
) -> None:
    # Chaos run (seed 3): the delete went through but its answer was lost; the ledger still
    # holds the deleted invoice's Id when the order comes back, unchanged.
    async with rig_for(settings, settings_overrides=RETRY_AFTER_DROP) as rig:
        await synced_first_order(rig)
        body = make.order("8011", version=1)
        await rig.put("orders", "O-R", body)
        first = await rig.settled("orders", "O-R")
        await rig.faults({"next": ["drop"]})  # the delete: committed, answer lost
        await delete(rig, "orders", "O-R")
        await eventually(lambda: retrying(rig, "orders", "O-R"), what="the lost delete")
        restored = await rig.put("orders", "O-R", make.order("8011", version=2))
        assert restored.json()["accepted"] is True, restored.text
        done = await rig.settled("orders", "O-R", revision=restored.json()["revision"])
        assert done["state"] == "synced", done
        (invoice,) = await with_marker(rig, "Invoice", ":order:O-R]", "PrivateNote")
        assert done["qbo"]["id"] == invoice["Id"] != first["qbo"]["id"]


async def test_b1_an_invoice_deleted_in_qbo_by_someone_is_shown_and_recreated_on_resync(
    settings: Settings,
) -> None:
    # B3: rentsync does not silently undo a bookkeeper's delete; Resync puts the invoice back.
    async with rig_for(settings) as rig:
        await synced_first_order(rig)
        await rig.put("orders", "O-D", make.order("8012"))
        first = await rig.settled("orders", "O-D")
        await rig.act("Invoice", first["qbo"]["id"], "delete", {})
        changed = await rig.put(
            "orders", "O-D", make.order("8012", lines=[("P-TENT", "2", "450.00")])
        )
        failed = await rig.settled("orders", "O-D", revision=changed.json()["revision"])
        assert failed["state"] == "failed", failed
        assert failed["error"]["code"] == "610"
        assert "deleted in QuickBooks" in failed["error"]["message"]
        assert "Resync" in failed["error"]["remedy"]
        assert await with_marker(rig, "Invoice", ":order:O-D]", "PrivateNote") == []
        attempts = len(failed["history"])
        resync = await rig.api.post("/api/v1/orders/O-D/resync", headers=rig.headers)
        assert resync.status_code == 202, resync.text
        done = await rig.settled("orders", "O-D", attempts_after=attempts)
        assert done["state"] == "synced", done
        (invoice,) = await with_marker(rig, "Invoice", ":order:O-D]", "PrivateNote")
        assert done["qbo"]["id"] == invoice["Id"] != first["qbo"]["id"]
