from __future__ import annotations

import asyncio

import httpx2

from rentsync.jobs import LANES_PER_WORKER
from tests.conftest import CompanyKey


async def test_health_reports_database_and_in_process_worker(api: httpx2.AsyncClient) -> None:
    for _ in range(50):
        body = (await api.get("/health")).json()
        if body["worker"]["live_workers"] >= LANES_PER_WORKER:  # both lanes registered
            break
        await asyncio.sleep(0.1)
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "mode": "external", "error": None}
    assert body["worker"]["in_process_running"] is True


async def test_trivial_job_travels_api_database_worker_and_back(
    api: httpx2.AsyncClient, operator: CompanyKey
) -> None:
    created = await api.post("/api/v1/diagnostics/pings", headers=operator.headers)
    assert created.status_code == 202
    location = created.headers["Location"]
    for _ in range(100):
        ping = (await api.get(location, headers=operator.headers)).json()
        if ping["state"] == "done":
            break
        await asyncio.sleep(0.05)
    assert ping["state"] == "done"
    assert ping["worker_name"]
    assert ping["completed_at"] >= ping["requested_at"]


async def test_api_key_sees_only_its_company(api: httpx2.AsyncClient, company) -> None:
    me = await api.get("/api/v1/company", headers=company.headers)
    assert me.status_code == 200
    assert me.json()["id"] == company.company_id
    assert me.json()["permissions"] == ["view_qbo_logs"]
    assert (await api.get("/api/v1/company")).status_code == 401
    bad = await api.get("/api/v1/company", headers={"Authorization": "Bearer rsk_nope_nope"})
    assert bad.status_code == 401


async def test_openapi_document_describes_the_api(api: httpx2.AsyncClient) -> None:
    doc = (await api.get("/openapi.json")).json()
    assert "/health" in doc["paths"]
    assert "/api/v1/diagnostics/pings" in doc["paths"]
