"""Issue 9, the product's edges: diagnostic pings are an operator's tool that cannot starve sync."""

from __future__ import annotations

import asyncio

import httpx2

from tests import ingest_fixtures as make
from tests.conftest import CompanyKey

PINGS = "/api/v1/diagnostics/pings"


async def test_i9_pings_need_an_operators_credential(
    api: httpx2.AsyncClient, company: CompanyKey, operator: CompanyKey
) -> None:
    assert (await api.post(PINGS)).status_code == 401
    refused = await api.post(PINGS, headers=company.headers)
    assert refused.status_code == 403
    assert "run_diagnostics" in refused.json()["detail"]
    created = await api.post(PINGS, headers=operator.headers)
    assert created.status_code == 202
    assert (await api.get(created.headers["Location"])).status_code == 401


async def test_i9_a_ping_holds_its_job_for_a_few_seconds_at_most(
    api: httpx2.AsyncClient, operator: CompanyKey
) -> None:
    refused = await api.post(PINGS, params={"hold_seconds": 20}, headers=operator.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "hold_seconds"]


async def test_i9_holding_pings_never_starve_sync_jobs(
    api: httpx2.AsyncClient, company: CompanyKey, operator: CompanyKey
) -> None:
    """More holding pings than the worker has slots (4 in the tests): a document's sync still
    runs at once, before the pings are done."""
    pings = [
        (await api.post(PINGS, params={"hold_seconds": 5}, headers=operator.headers)).headers[
            "Location"
        ]
        for _ in range(6)
    ]
    put = await api.put("/api/v1/orders/O-1", json=make.order("1001"), headers=company.headers)
    assert put.status_code == 202
    for _ in range(400):
        status = (await api.get("/api/v1/orders/O-1/sync", headers=company.headers)).json()
        if status["state"] != "pending":
            break
        await asyncio.sleep(0.05)
    assert status["state"] == "skipped", status  # not connected: the job ran
    done = [
        (await api.get(url, headers=operator.headers)).json()["state"] == "done" for url in pings
    ]
    assert sum(done) <= 1, "the sync job waited for the pings"
