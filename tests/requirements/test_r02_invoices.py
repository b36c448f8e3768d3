"""R2, R3, R9, R10, B2: orders become QBO invoices with their customer and items, through the
public API, a real worker and the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import Rig, rig_for


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    async with rig_for(settings) as connected:
        await connected.connect()
        await connected.map_accounts()
        await connected.sync_tax_rates()
        yield connected


async def seed_catalogue(rig: Rig) -> None:
    await rig.put("customers", "C-1", make.customer())
    await rig.put("products", "P-TENT", make.rental_product())
    await rig.put("products", "P-CHAIR", make.rental_product("Chair, white folding", "2.50"))


async def test_r02_order_becomes_invoice_with_customer_and_items_created(rig: Rig) -> None:
    await seed_catalogue(rig)
    body = make.order("1001", lines=[("P-TENT", "1", "450.00"), ("P-CHAIR", "100", "2.50")])
    await rig.put("orders", "O-1", body)
    status = await rig.settled("orders", "O-1")
    assert status["state"] == "synced", status
    assert status["qbo"]["entity"] == "Invoice"
    invoices = await rig.qbo_entities("Invoice")
    assert len(invoices) == 1
    invoice = invoices[0]
    assert invoice["DocNumber"] == "1001"
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("700.00")
    customers = await rig.qbo_entities("Customer")
    assert [c["DisplayName"] for c in customers] == ["Maple Street Events"]
    names = sorted(i["Name"] for i in await rig.qbo_entities("Item") if i.get("Type") == "Service")
    assert "Tent 20x30" in names and "Chair, white folding" in names
    assert (await rig.status("customers", "C-1"))["state"] == "synced"


async def test_r03_order_update_updates_the_same_invoice(rig: Rig) -> None:
    await seed_catalogue(rig)
    await rig.put("orders", "O-2", make.order("1002"))
    first = await rig.settled("orders", "O-2")
    assert first["state"] == "synced"
    extended = make.order("1002", lines=[("P-TENT", "2", "450.00")], reason="auto_extended")
    response = await rig.put("orders", "O-2", extended)
    revision = response.json()["revision"]
    second = await rig.settled("orders", "O-2", revision=revision)
    assert second["state"] == "synced", second
    assert second["qbo"]["id"] == first["qbo"]["id"]
    invoices = await rig.qbo_entities("Invoice")
    assert len(invoices) == 1
    assert Decimal(str(invoices[0]["TotalAmt"])) == Decimal("900.00")


async def test_r03_deleting_the_order_deletes_the_invoice_in_qbo(rig: Rig) -> None:
    await seed_catalogue(rig)
    await rig.put("orders", "O-3", make.order("1003"))
    assert (await rig.settled("orders", "O-3"))["state"] == "synced"
    deleted = await rig.api.delete("/api/v1/orders/O-3", headers=rig.headers)
    assert deleted.status_code == 202
    status = await rig.settled("orders", "O-3", revision=deleted.json()["revision"])
    assert status["state"] == "synced" and status["deleted"] is True
    assert status["qbo"] is None
    assert [i for i in await rig.qbo_entities("Invoice") if i.get("status") != "Deleted"] == []


async def test_r09_sale_product_becomes_an_inventory_item(rig: Rig) -> None:
    await rig.put("customers", "C-1", make.customer())
    await rig.put("products", "P-NAPKIN", make.sale_product())
    await rig.put(
        "orders",
        "O-4",
        make.order("1004", lines=[("P-NAPKIN", "10", "12.00")], invoice_date="2026-11-20"),
    )
    status = await rig.settled("orders", "O-4")
    assert status["state"] == "synced", status
    item = next(i for i in await rig.qbo_entities("Item") if i["Name"] == "Napkins (pack of 50)")
    assert item["Type"] == "Inventory"
    assert item["TrackQtyOnHand"] is True
    assert item["InvStartDate"] == "2026-11-01"
    assert item["IncomeAccountRef"]["value"] == rig.accounts["income"]
    assert item["ExpenseAccountRef"]["value"] == rig.accounts["cogs"]
    assert item["AssetAccountRef"]["value"] == rig.accounts["inventory"]


async def test_b2_tax_on_the_invoice_matches_the_synced_rate(rig: Rig) -> None:
    rates = await rig.sync_tax_rates()
    assert rates, "the emulator company has tax codes"
    rate = next(r for r in rates if Decimal(str(r["rate_percent"])) > 0)
    await seed_catalogue(rig)
    tax = (Decimal("450.00") * Decimal(str(rate["rate_percent"])) / 100).quantize(Decimal("0.01"))
    body = make.order("1005", tax=str(tax), tax_rate_id=rate["id"])
    await rig.put("orders", "O-5", body)
    status = await rig.settled("orders", "O-5")
    assert status["state"] == "synced", status


async def test_r09_sale_product_on_a_plan_without_inventory_fails_before_writing(
    settings: Settings,
) -> None:
    async with rig_for(settings, preset={"plan": "essentials"}) as essentials:
        await essentials.connect()
        await essentials.map_accounts()
        await essentials.put("customers", "C-1", make.customer())
        await essentials.put("products", "P-NAPKIN", make.sale_product())
        await essentials.put(
            "orders", "O-9", make.order("1009", lines=[("P-NAPKIN", "10", "12.00")])
        )
        status = await essentials.settled("orders", "O-9")
        assert status["state"] == "failed", status
        assert status["error"]["code"] == "rentsync_inventory_needs_plus"
        assert "QuickBooks Online Plus or higher" in status["error"]["remedy"]
        assert await essentials.qbo_entities("Invoice") == []
        assert await essentials.qbo_entities("Customer") == [], "nothing was written"
