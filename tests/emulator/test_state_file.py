"""The state file: save, load into a fresh emulator, and carry on where the first one stopped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
from tests.emulator.conftest import Qbo

from qbo_emulator.app import create_app
from qbo_emulator.testing import emulator_transport, fast_config


def _recent() -> str:
    """A changedSince within CDC's 30-day look-back."""
    return (datetime.now(UTC) - timedelta(days=1)).isoformat()


async def _invoice(qbo: Qbo, customer: str, item: str, amount: str) -> dict[str, Any]:
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": amount,
        "SalesItemLineDetail": {
            "ItemRef": {"value": item},
            "Qty": 1,
            "UnitPrice": amount,
            "TaxCodeRef": {"value": "TAX"},
        },
    }
    body = {
        "CustomerRef": {"value": customer},
        "Line": [line],
        "TxnTaxDetail": {"TxnTaxCodeRef": {"value": qbo.tax_code_id("Local 8%")}},
    }
    return await qbo.create("Invoice", body)


async def test_save_and_load_keep_objects_ids_tokens_replays_and_grants(
    qbo: Qbo, tmp_path: Path
) -> None:
    customer = await qbo.customer("Saved Customer")
    item = await qbo.service_item("Saved item")
    invoice = await _invoice(qbo, customer["Id"], item["Id"], "120.05")
    paid = await qbo.post(
        "payment",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": "20.01",
            "Line": [
                {"Amount": "20.01", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
        requestid="pay-1",
    )
    assert paid.status_code == 200
    gone = await qbo.customer("Deleted later")
    await qbo.client.post(f"/admin/companies/{qbo.realm}/act/Customer/{gone['Id']}/deactivate")
    doomed = await _invoice(qbo, customer["Id"], item["Id"], "5")
    deleted = await qbo.post(
        "invoice", {"Id": doomed["Id"], "SyncToken": doomed["SyncToken"]}, operation="delete"
    )
    assert deleted.status_code == 200
    before = qbo.company
    path = tmp_path / "state.json"
    saved = await qbo.client.post("/admin/save", json={"path": str(path)})
    assert saved.status_code == 200 and path.is_file()

    fresh = create_app(fast_config())
    async with httpx2.AsyncClient(
        transport=emulator_transport(fresh),
        base_url="http://qbo.test",
        headers=dict(qbo.client.headers),  # the bearer token issued by the first emulator
    ) as client:
        loaded = await client.post("/admin/load", json={"path": str(path)})
        assert loaded.status_code == 200 and loaded.json()["companies"] == [qbo.realm]
        after = fresh.emulator.companies[qbo.realm]
        assert after.store == before.store  # every object, Id, SyncToken and MetaData
        assert after.next_id == before.next_id and after.tombstones == before.tombstones
        stored = after.require("Invoice", invoice["Id"])
        assert stored["Balance"] == Decimal("109.64") and isinstance(stored["Balance"], Decimal)
        url = f"/v3/company/{qbo.realm}"

        # the access token still works; reads and queries answer as before
        read = await client.get(f"{url}/invoice/{invoice['Id']}")
        assert read.status_code == 200
        body = read.json()["Invoice"]
        assert body["SyncToken"] == "1" and body["Balance"] == 109.64 and body["TotalAmt"] == 129.65
        query = await client.get(
            f"{url}/query", params={"query": "select * from Customer where Active = false"}
        )
        assert [c["Id"] for c in query.json()["QueryResponse"]["Customer"]] == [gone["Id"]]

        # a requestid seen before the save replays byte for byte and writes nothing
        replay = await client.post(
            f"{url}/payment", params={"requestid": "pay-1"}, json={"CustomerRef": {}}
        )
        assert replay.content == paid.content and len(after.table("Payment")) == 1

        # Ids continue; names and DocNumbers stay taken; CDC still reports the deletion
        new = await client.post(f"{url}/customer", json={"DisplayName": "After load"})
        assert int(new.json()["Customer"]["Id"]) == before.next_id
        taken = await client.post(f"{url}/customer", json={"DisplayName": "saved customer"})
        assert taken.json()["Fault"]["Error"][0]["code"] == "6240"
        cdc = await client.get(
            f"{url}/cdc", params={"entities": "Invoice", "changedSince": _recent()}
        )
        invoices = cdc.json()["CDCResponse"][0]["QueryResponse"][0]["Invoice"]
        assert {"Id": doomed["Id"], "status": "Deleted"}.items() <= next(
            i for i in invoices if i["Id"] == doomed["Id"]
        ).items()

        # updating with the SyncToken from before the save works; a stale one is 5010
        update = await client.post(
            f"{url}/customer",
            json={"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "kept"},
        )
        assert update.json()["Customer"]["SyncToken"] == "1"
        stale = await client.post(
            f"{url}/customer",
            json={"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "again"},
        )
        assert stale.json()["Fault"]["Error"][0]["code"] == "5010"


async def test_load_of_a_missing_file_keeps_state_and_save_needs_a_path(qbo: Qbo) -> None:
    await qbo.customer("Still here")
    missing = await qbo.client.post("/admin/load", json={"path": "/nonexistent/state.json"})
    assert missing.status_code == 404 and len(qbo.company.table("Customer")) == 1
    no_path = await qbo.client.post("/admin/save", json={})
    assert no_path.status_code == 400
