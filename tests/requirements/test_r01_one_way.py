"""R1 one-way: QBO is read only to find or verify what rentsync wrote; an edit made in QBO never
flows back, and the rental system's next change wins."""

from __future__ import annotations

from decimal import Decimal

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import rig_for


async def test_r01_an_edit_in_qbo_is_not_pulled_back_and_the_next_update_wins(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await rig.ready_with_catalogue()
        await rig.put("orders", "O-1", make.order("5001"))
        synced = await rig.settled("orders", "O-1")
        # Someone renumbers the invoice in QuickBooks.
        await rig.act("Invoice", synced["qbo"]["id"], "edit", {"DocNumber": "EDITED-IN-QBO"})
        after_edit = await rig.status("orders", "O-1")
        assert after_edit["state"] == "synced" and after_edit["revision"] == synced["revision"]
        # The rental system's next change is written over it (SyncToken re-read on 5010).
        update = await rig.put(
            "orders", "O-1", make.order("5001", lines=[("P-TENT", "2", "450.00")])
        )
        done = await rig.settled("orders", "O-1", revision=update.json()["revision"])
        assert done["state"] == "synced", done
        (invoice,) = await rig.qbo_entities("Invoice")
        assert invoice["DocNumber"] == "5001"
        assert Decimal(str(invoice["TotalAmt"])) == Decimal("900.00")
