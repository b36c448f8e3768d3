"""The ingest API: validation, atomic store-and-schedule, versions, isolation between companies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import psycopg
import pytest

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.conftest import CompanyKey, api_client_for


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx2.AsyncClient]:
    """No worker: these tests look at what the API stores and schedules."""
    async with api_client_for(settings, with_worker=False) as client:
        yield client


def count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


async def test_put_order_stores_snapshot_and_schedules_its_sync(
    api: httpx2.AsyncClient, company: CompanyKey, settings: Settings
) -> None:
    response = await api.put("/api/v1/orders/O-1", json=make.order(), headers=company.headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] is True
    assert body["status_url"] == "/api/v1/orders/O-1/sync"
    assert response.headers["Location"] == "/api/v1/orders/O-1/sync"
    status = (await api.get(body["status_url"], headers=company.headers)).json()
    assert status["state"] == "pending"
    assert status["revision"] == 1
    url = settings.database_url
    assert url
    assert (
        count(
            url,
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'rentsync.sync_document'",
        )
        == 1
    )
    assert count(url, "SELECT count(*) FROM procrastinate_jobs WHERE lock LIKE 'c%:order:O-1'") == 1


async def test_bad_order_is_refused_naming_each_field_and_nothing_is_stored(
    api: httpx2.AsyncClient, company: CompanyKey, settings: Settings
) -> None:
    bad = make.order(invoice_number="X" * 22)
    bad["lines"][0]["quantity"] = "-1"
    bad["totals"]["total"] = "1.00"
    del bad["invoice_date"]
    response = await api.put("/api/v1/orders/O-2", json=bad, headers=company.headers)
    assert response.status_code == 422
    locations = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert ("body", "invoice_number") in locations
    assert ("body", "invoice_date") in locations
    assert ("body", "lines", 0, "quantity") in locations
    url = settings.database_url
    assert url
    assert count(url, "SELECT count(*) FROM documents") == 0
    assert count(url, "SELECT count(*) FROM procrastinate_jobs") == 0


async def test_totals_that_do_not_add_up_are_refused(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    bad = make.order(tax="10.00")
    bad["totals"]["total"] = "999.00"
    response = await api.put("/api/v1/orders/O-3", json=bad, headers=company.headers)
    assert response.status_code == 422
    assert "totals.total" in response.text


async def test_money_with_float_noise_is_refused(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    bad = make.order()
    bad["lines"][0]["rate"] = "450.001"
    response = await api.put("/api/v1/orders/O-4", json=bad, headers=company.headers)
    assert response.status_code == 422
    assert "two decimal places" in response.text


async def test_a_late_older_version_never_overwrites_a_newer_one(
    api: httpx2.AsyncClient, company: CompanyKey, settings: Settings
) -> None:
    newer = make.order(version=5, invoice_number="2002")
    older = make.order(version=3, invoice_number="2001")
    assert (
        await api.put("/api/v1/orders/O-5", json=newer, headers=company.headers)
    ).status_code == 202
    late = await api.put("/api/v1/orders/O-5", json=older, headers=company.headers)
    assert late.status_code == 200
    assert late.json()["accepted"] is False
    url = settings.database_url
    assert url
    assert count(url, "SELECT count(*) FROM documents WHERE body->>'invoice_number' = '2002'") == 1
    assert count(url, "SELECT revision FROM documents WHERE source_id = 'O-5'") == 1


async def test_delete_records_the_deletion_and_schedules_it(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    await api.put("/api/v1/orders/O-6", json=make.order(), headers=company.headers)
    deleted = await api.delete("/api/v1/orders/O-6", headers=company.headers)
    assert deleted.status_code == 202
    status = (await api.get("/api/v1/orders/O-6/sync", headers=company.headers)).json()
    assert status["deleted"] is True
    assert status["state"] == "pending"
    assert (await api.delete("/api/v1/orders/nope", headers=company.headers)).status_code == 404


async def test_another_companys_document_answers_404_never_its_data(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    await api.put("/api/v1/customers/C-1", json=make.customer(), headers=company.headers)
    services = api.app.state.services
    _, other_key = await services.companies.create("Another Rental Co")
    other = {"Authorization": f"Bearer {other_key.key}"}
    response = await api.get("/api/v1/customers/C-1/sync", headers=other)
    assert response.status_code == 404
    assert "Maple" not in response.text
    assert (await api.post("/api/v1/customers/C-1/resync", headers=other)).status_code == 404


async def test_every_call_needs_an_api_key(api: httpx2.AsyncClient) -> None:
    response = await api.put("/api/v1/customers/C-1", json=make.customer())
    assert response.status_code == 401


async def test_sale_product_needs_inventory_fields(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    bad = make.sale_product()
    del bad["tracking_start"]
    response = await api.put("/api/v1/products/P-NAPKIN", json=bad, headers=company.headers)
    assert response.status_code == 422
    assert "tracking_start" in response.text
