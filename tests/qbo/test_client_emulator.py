"""The client against the emulator: a 100-write burst under the real limits, and no duplicates
after dropped connections (requestid replay + natural-key lookup)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from rentsync.qbo import errors
from rentsync.qbo.client import QboClient
from rentsync.qbo.requestid import request_id
from rentsync.settings import Settings
from tests.qbo_fixtures import qbo_harness


async def test_a_burst_of_100_writes_under_real_limits(settings: Settings) -> None:
    async with qbo_harness(settings, limits=True) as h:
        await h.connect()
        await h.admin(
            "PUT",
            f"/admin/companies/{h.realm}/faults",
            {"latency": {"distribution": "fixed", "ms": 20}},
        )
        client = await h.services.qbo.client_for(h.company_id)
        results = await asyncio.gather(
            *(
                client.create(
                    "Customer",
                    {"DisplayName": f"Burst customer {n}"},
                    requestid=request_id(h.company_id, f"customer:{n}", 1, "create"),
                )
                for n in range(100)
            ),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        assert failures == []
        assert len({r.id for r in results if not isinstance(r, BaseException)}) == 100
        limiter = h.services.qbo.limiter
        assert 1 < limiter.peak_in_flight[h.realm] <= 10
        # The emulator answers 429 past 10 in flight or 10 a second: none was sent.
        log = await h.services.qbo_log.page(h.company_id, limit=500)
        assert [e.status for e in log if e.status == 429] == []
        assert sum(1 for e in log if "/customer?" in e.path and e.status == 200) == 100
        async with h.services.pool.connection() as conn:
            cursor = await conn.execute("SELECT head FROM qbo_rate_heads WHERE kind = 'minute'")
            row = await cursor.fetchone()
        assert row is not None and row[0] >= 100


async def _sync_invoice(client: QboClient, company_id: int, doc: str, body: dict[str, Any]) -> str:
    """What the sync engine does after an uncertain outcome: look up, then retry the same id."""
    requestid = request_id(company_id, f"invoice:{doc}", 1, "create")
    for _ in range(10):
        try:
            return (await client.create("Invoice", body, requestid=requestid)).id
        except errors.QboError as exc:
            if not exc.outcome_uncertain:
                raise
            found = await client.find_by_doc_number("Invoice", body["DocNumber"])
            if found is not None:
                return str(found["Id"])
    raise AssertionError("never succeeded")


async def test_drop_after_commit_on_creates_gives_no_duplicates(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        client = await h.services.qbo.client_for(h.company_id)
        customer = await client.create(
            "Customer", {"DisplayName": "Drop Rentals"}, requestid="rs-drop-customer"
        )
        accounts = h.emulator.emulator.companies[h.realm].preset_accounts
        item = await client.create(
            "Item",
            {
                "Name": "Tent",
                "Type": "Service",
                "IncomeAccountRef": {"value": accounts["services"]},
            },
            requestid="rs-drop-item",
        )
        await h.admin(
            "PUT", f"/admin/companies/{h.realm}/faults", {"seed": 3, "drop_after_commit_rate": 0.5}
        )
        line = {
            "DetailType": "SalesItemLineDetail",
            "Amount": Decimal("70.00"),
            "SalesItemLineDetail": {
                "ItemRef": {"value": item.id},
                "Qty": 1,
                "UnitPrice": Decimal("70.00"),
                "TaxCodeRef": {"value": "NON"},
            },
        }
        ids = []
        for n in range(20):
            body = {
                "CustomerRef": {"value": customer.id},
                "DocNumber": f"R-{n:04d}",
                "Line": [line],
            }
            ids.append(await _sync_invoice(client, h.company_id, f"R-{n:04d}", body))
        await h.admin("DELETE", f"/admin/companies/{h.realm}/faults")

        invoices = await client.query_all("Invoice")
        numbers = sorted(i["DocNumber"] for i in invoices)
        assert numbers == sorted(f"R-{n:04d}" for n in range(20))  # 0 duplicates
        assert sorted(ids) == sorted(i["Id"] for i in invoices)
        log = await h.services.qbo_log.page(h.company_id, limit=500)
        dropped = [e for e in log if e.status is None and e.method == "POST"]
        assert len(dropped) >= 3  # the faults really happened
        assert all("UncertainOutcome" in (e.error or "") for e in dropped)
