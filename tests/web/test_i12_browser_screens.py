"""Issue 12, the data screens in a real Chromium (Playwright, Debian's chromium): an order goes
from pending to synced before the bookkeeper's eyes (the dashboard updates itself); a failed
document is fixed in QuickBooks (the emulator's admin API) and resynced; the QuickBooks logs
need the permission; one company's user never sees another's documents."""

from __future__ import annotations

import re
from typing import Any

import httpx2
from playwright.async_api import expect

from rentsync.domain.people import Role
from rentsync.people.service import Actor
from tests import ingest_fixtures as make
from tests.sync_rig import account_mapping
from tests.web.conftest import LiveConsole

PASSWORD = "correct horse battery staple"


class Company:
    def __init__(self, live: LiveConsole, company_id: int, key: str) -> None:
        self.live = live
        self.id = company_id
        self.api = httpx2.AsyncClient(
            base_url=live.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        self.qbo = httpx2.AsyncClient(base_url=live.emulator_url, timeout=30)

    async def aclose(self) -> None:
        await self.api.aclose()
        await self.qbo.aclose()

    async def user(
        self, email: str, role: Role = Role.OWNER, *, view_qbo_logs: bool = False
    ) -> str:
        await self.live.services.people.create_user(
            Actor(company_id=self.id, label="test"),
            email=email,
            name=email.split("@")[0].title(),
            role=role,
            view_qbo_logs=view_qbo_logs,
            password=PASSWORD,
        )
        return email

    async def connect_and_map(self, page: Any) -> None:
        """Connect through the emulator's consent page in the browser, then map accounts."""
        started = await self.api.post("/api/v1/qbo/connect")
        assert started.status_code == 200, started.text
        await page.goto(started.json()["authorize_url"])
        await page.get_by_label("Company").select_option(self.live.realm_id)
        await page.get_by_role("button", name="Connect").click()
        await expect(page.get_by_role("heading", name="QuickBooks connected")).to_be_visible()
        accounts = self.live.emulator.emulator.companies[self.live.realm_id].preset_accounts
        saved = await self.api.put(
            "/api/v1/settings",
            json={"sync_mode": "all_orders_and_quotes", "accounts": account_mapping(accounts)},
        )
        assert saved.status_code == 200, saved.text
        await self.put("customers", "C-1", make.customer())
        await self.put("products", "P-TENT", make.rental_product())

    async def put(self, plural: str, source_id: str, body: dict[str, Any]) -> None:
        response = await self.api.put(f"/api/v1/{plural}/{source_id}", json=body)
        assert response.status_code == 202, response.text

    async def faults(self, plan: dict[str, Any]) -> None:
        response = await self.qbo.put(f"/admin/companies/{self.live.realm_id}/faults", json=plan)
        assert response.status_code == 200, response.text


async def _company(live: LiveConsole, name: str) -> Company:
    created, key = await live.services.companies.create(name)
    return Company(live, created.id, key.key)


async def _sign_in(page: Any, email: str) -> None:
    await page.goto("/signin")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def test_i12_browser_order_goes_from_pending_to_synced(
    live: LiveConsole, browser: Any
) -> None:
    company = await _company(live, "Sunny Tents")
    page = await live.new_page(browser)
    await _sign_in(page, await company.user("owner@sunny.example"))
    await company.connect_and_map(page)
    await page.goto("/")
    order_row = page.locator('#counts tr[data-kind="order"]')
    await expect(order_row.locator('td[data-state="synced"]')).to_have_text("0")

    # QuickBooks answers slowly for a while: the order waits in the queue, pending.
    await company.faults({"latency": {"distribution": "fixed", "ms": 1500}})
    await company.put("orders", "O-1", make.order("1001"))
    await page.goto("/documents/order/O-1")
    await expect(page.locator("#doc-state")).to_have_text("Pending")
    await page.goto("/")
    await expect(order_row.locator('td[data-state="pending"]')).to_have_text("1")
    await company.faults({})
    # No reload: the dashboard polls and shows the order synced.
    await expect(order_row.locator('td[data-state="synced"]')).to_have_text("1", timeout=30_000)
    await expect(order_row.locator('td[data-state="pending"]')).to_have_text("0")

    await page.get_by_role("link", name="Documents").click()
    row = page.locator('tr[data-doc="order:O-1"]')
    await expect(row).to_contain_text("Synced")
    qbo_link = row.get_by_role("link", name=re.compile(r"Invoice \d+"))
    href = await qbo_link.get_attribute("href")
    assert href and href.startswith(
        f"{live.emulator_url}/admin/companies/{live.realm_id}/view/Invoice/"
    )
    view = await page.context.new_page()
    await view.goto(href)
    await expect(view.get_by_text("1001").first).to_be_visible()
    await company.aclose()


async def test_i12_browser_failed_document_fixed_in_quickbooks_then_resynced(
    live: LiveConsole, browser: Any
) -> None:
    company = await _company(live, "Sunny Tents")
    page = await live.new_page(browser)
    await _sign_in(page, await company.user("books@sunny.example", Role.BOOKKEEPER))
    owner_page = await live.new_page(browser)
    await _sign_in(owner_page, await company.user("owner@sunny.example"))
    await company.connect_and_map(owner_page)
    await company.put("orders", "O-1", make.order("7001"))
    await page.goto("/documents/order/O-1")
    await expect(page.locator("#doc-state")).to_have_text("Synced", timeout=30_000)
    first_id = (await page.locator("#qbo-link").inner_text()).split()[1]
    await company.put("orders", "O-2", make.order("7001"))
    await page.goto("/documents/order/O-2")  # follows the sync while it is pending
    await expect(page.locator("#doc-state")).to_have_text("Failed", timeout=30_000)

    await page.get_by_role("link", name="System messages").click()
    message = page.locator('li[data-doc="order:O-2"]')
    await expect(message).to_contain_text("6140")
    await message.get_by_role("link", name=re.compile("O-2")).click()
    await expect(page.locator("#error")).to_contain_text("What to do")

    # The bookkeeper renumbers the older invoice in QuickBooks (the emulator's admin API) ...
    fixed = await company.qbo.post(
        f"/admin/companies/{live.realm_id}/act/Invoice/{first_id}/edit",
        json={"DocNumber": "7001-OLD"},
    )
    assert fixed.status_code == 200, fixed.text
    # ... and presses Resync: the page follows the sync until it is done.
    await page.get_by_role("button", name="Resync with QuickBooks").click()
    await expect(page.get_by_role("status")).to_contain_text("resync scheduled")
    await expect(page.locator("#doc-state")).to_have_text("Synced", timeout=30_000)
    await expect(page.locator("#error")).to_have_count(0)
    await company.aclose()


async def test_i12_browser_logs_need_the_permission(live: LiveConsole, browser: Any) -> None:
    company = await _company(live, "Sunny Tents")
    page = await live.new_page(browser)
    await _sign_in(page, await company.user("owner@sunny.example"))
    await company.connect_and_map(page)
    await page.goto("/")
    await expect(page.get_by_role("link", name="Documents")).to_be_visible()
    assert await page.get_by_role("link", name="QuickBooks logs").count() == 0
    assert (await page.goto("/quickbooks/logs")).status == 403

    reader = await live.new_page(browser)
    await _sign_in(
        reader, await company.user("reader@sunny.example", Role.VIEWER, view_qbo_logs=True)
    )
    await reader.get_by_role("link", name="QuickBooks logs").click()
    await expect(reader.locator("#qbo-log")).to_contain_text("/companyinfo/")
    await reader.get_by_label("QuickBooks entity").fill("Preferences")
    await reader.get_by_role("button", name="Show").click()
    await expect(reader.locator("#qbo-log")).to_contain_text("/preferences")
    assert "/companyinfo/" not in await reader.locator("#qbo-log").inner_text()
    assert "Bearer" not in await reader.locator("#qbo-log").inner_text()
    await company.aclose()


async def test_i12_browser_one_companys_user_never_sees_anothers_documents(
    live: LiveConsole, browser: Any
) -> None:
    ours = await _company(live, "Sunny Tents")
    page = await live.new_page(browser)
    await _sign_in(page, await ours.user("owner@sunny.example"))
    await ours.connect_and_map(page)
    await ours.put("orders", "O-SECRET", make.order("9001"))
    await page.goto("/documents/order/O-SECRET")
    await expect(page.locator("#doc-state")).to_have_text("Synced", timeout=30_000)

    theirs = await _company(live, "Shady Canopies")
    other = await live.new_page(browser)
    await _sign_in(other, await theirs.user("owner@shady.example", view_qbo_logs=True))
    await other.goto("/documents")
    await expect(other.locator("#documents")).to_have_text("No documents match.")
    await other.goto("/documents?q=9001")
    await expect(other.locator("#documents")).to_have_text("No documents match.")
    assert (await other.goto("/documents/order/O-SECRET")).status == 404
    assert (await other.goto("/documents/customer/C-1")).status == 404
    await other.goto("/quickbooks/logs")
    await expect(other.locator("#qbo-log")).to_have_text("No requests match.")
    await other.goto("/messages")
    assert "O-SECRET" not in await other.content()
    await ours.aclose()
    await theirs.aclose()
