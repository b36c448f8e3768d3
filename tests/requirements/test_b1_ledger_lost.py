"""B1 when rentsync's own record is lost (a restore from an older backup, a crash between the
write and the ledger): the invoice QBO already holds is found by its number and rentsync's
marker and updated; never a second one."""

from __future__ import annotations

from decimal import Decimal

import psycopg

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import rig_for


async def test_b1_an_invoice_the_ledger_forgot_is_adopted_not_posted_twice(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await rig.ready_with_catalogue()
        await rig.put("orders", "O-1", make.order("6001"))
        first = await rig.settled("orders", "O-1")
        assert first["state"] == "synced"
        assert settings.database_url
        async with await psycopg.AsyncConnection.connect(
            settings.database_url, autocommit=True
        ) as db:
            await db.execute(
                "UPDATE sync_records SET qbo_id = NULL, sync_token = NULL, synced_hash = NULL "
                "WHERE doc_type = 'order' AND source_id = 'O-1'"
            )
        update = await rig.put(
            "orders", "O-1", make.order("6001", lines=[("P-TENT", "2", "450.00")])
        )
        done = await rig.settled("orders", "O-1", revision=update.json()["revision"])
        assert done["state"] == "synced", done
        assert done["qbo"]["id"] == first["qbo"]["id"]
        (invoice,) = await rig.qbo_entities("Invoice")
        assert Decimal(str(invoice["TotalAmt"])) == Decimal("900.00")


async def test_b1_a_number_taken_by_someone_elses_invoice_still_fails_with_6140(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await rig.ready_with_catalogue()
        await rig.put("orders", "O-1", make.order("6002"))
        await rig.settled("orders", "O-1")
        await rig.put("orders", "O-2", make.order("6002"))
        failed = await rig.settled("orders", "O-2")
        assert failed["state"] == "failed"
        assert failed["error"]["code"] == "6140", "another order's invoice is not adopted"
        assert len(await rig.qbo_entities("Invoice")) == 1
