"""R18 and B5 in a real Chromium (Playwright, Debian's chromium), the console and QuickBooks
(the emulator) both served over HTTP: orders sent before QuickBooks was connected are chosen on
the Bulk sync screen, previewed, started and followed until done (htmx refreshes the page), and
QuickBooks then holds their invoices; a viewer sees the bulk sync and is refused its Start."""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import expect

from rentsync.domain.people import Role
from tests import ingest_fixtures as make
from tests.web.conftest import LiveConsole
from tests.web.test_i12_browser_screens import Company, _company, _sign_in

ORDERS = {"O-1": "6001", "O-2": "6002", "O-3": "6003"}


async def _sent_before_connection(company: Company) -> None:
    """The rental system's customer, product and three orders, before QuickBooks is connected:
    each is settled (skipped) and waits for a bulk sync (R14)."""
    await company.put("customers", "C-1", make.customer())
    await company.put("products", "P-TENT", make.rental_product())
    for source_id, number in ORDERS.items():
        await company.put("orders", source_id, make.order(number))
    deadline = asyncio.get_running_loop().time() + 30
    for source_id in ORDERS:
        while True:
            status = (await company.api.get(f"/api/v1/orders/{source_id}/sync")).json()
            if status["state"] in ("skipped", "synced", "failed"):
                break
            assert asyncio.get_running_loop().time() < deadline, status
            await asyncio.sleep(0.1)
        assert status["state"] == "skipped", status


async def _invoice_numbers(company: Company) -> list[str]:
    books = (await company.qbo.get(f"/admin/companies/{company.live.realm_id}")).json()
    found = books.get("entities", books).get("Invoice", [])
    invoices = list(found.values()) if isinstance(found, dict) else list(found)
    return sorted(invoice["DocNumber"] for invoice in invoices)


async def test_r18_browser_bulk_sync_of_orders_sent_before_the_connection(
    live: LiveConsole, browser: Any
) -> None:
    company = await _company(live, "Sunny Tents")
    try:
        await _sent_before_connection(company)
        page = await live.new_page(browser)
        await _sign_in(page, await company.user("owner@sunny.example"))
        await company.connect_and_map(page)
        assert await _invoice_numbers(company) == []

        await page.goto("/")
        await page.get_by_role("link", name="Bulk sync").click()
        await page.get_by_role("link", name="New bulk sync").click()
        await page.get_by_label("Only what QuickBooks does not hold yet").check()
        await page.get_by_role("button", name="Preview").click()
        # The preview runs on the worker; the page follows it without a reload.
        state = page.locator("#bulk-state")
        await expect(state).to_have_text("Previewed: waiting for Start", timeout=30_000)
        await expect(page.locator('tr[data-planned="create"] td.num')).to_have_text("3")
        await expect(page.locator('tr[data-planned="fail"] td.num')).to_have_text("0")
        await expect(page.locator("#bulk-items tbody tr")).to_have_count(3)
        assert await _invoice_numbers(company) == [], "the preview writes nothing"

        await page.get_by_role("button", name="Start: send these documents to QuickBooks").click()
        await expect(state).to_have_text("Done", timeout=60_000)
        await expect(page.locator('[data-count="created"]')).to_have_text("3")
        await expect(page.locator('[data-count="failed"]')).to_have_text("0")
        for source_id in ORDERS:
            await expect(page.locator(f'tr[data-order="{source_id}"]')).to_contain_text("Synced")
        assert await _invoice_numbers(company) == sorted(ORDERS.values())

        await page.locator("#bulk-items").get_by_role("link", name="O-2").click()
        await expect(page.locator("#doc-state")).to_have_text("Synced")

        # A viewer of the same company sees the bulk sync, without Start or Cancel, and a
        # forged POST from that browser (with its valid CSRF token) is refused.
        viewer = await live.new_page(browser)
        await _sign_in(viewer, await company.user("viewer@sunny.example", Role.VIEWER))
        await viewer.get_by_role("link", name="Bulk sync").click()
        assert await viewer.get_by_role("link", name="New bulk sync").count() == 0
        await viewer.locator("#bulk-syncs a").first.click()
        await expect(viewer.locator("#bulk-state")).to_have_text("Done")
        assert await viewer.get_by_role("button", name="Cancel").count() == 0
        path = viewer.url.split(live.url, 1)[1]
        token = next(c["value"] for c in await viewer.context.cookies() if c["name"] == "csrftoken")
        for action, form in (
            (f"{path}/start", {}),
            (f"{path}/cancel", {}),
            ("/bulk-syncs", {"not_in_qbo": "true"}),
        ):
            forged = await viewer.request.post(action, form={"csrftoken": token, **form})
            assert forged.status == 403, action
        assert len(await live.services.bulk_syncs.repository.recent(company.id)) == 1
    finally:
        await company.aclose()
