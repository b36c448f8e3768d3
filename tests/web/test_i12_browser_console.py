"""Issue 12 in a real Chromium (Playwright): the console served over HTTP, QuickBooks (the
emulator) over HTTP too. Sign in, connect through the consent page, map accounts, sync tax
rates; a viewer is refused; a forged CSRF token is refused; companies are kept apart; the
sign-in link works once; sign-in is rate-limited."""

from __future__ import annotations

import re
from typing import Any

import httpx2
from playwright.async_api import expect

from rentsync.domain.people import Role
from rentsync.people.service import Actor
from tests.web.conftest import LiveConsole

PASSWORD = "correct horse battery staple"


async def _user(live: LiveConsole, company_id: int, email: str, role: Role = Role.OWNER) -> str:
    await live.services.people.create_user(
        Actor(company_id=company_id, label="test"),
        email=email,
        name=email.split("@")[0].title(),
        role=role,
        password=PASSWORD,
    )
    return email


async def _company(live: LiveConsole, name: str) -> tuple[int, str]:
    company, key = await live.services.companies.create(name)
    return company.id, key.key


async def _sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    await page.goto("/signin")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def _connect(page: Any, live: LiveConsole) -> None:
    await page.goto("/settings/quickbooks")
    await page.get_by_role("button", name="Connect to QuickBooks").click()
    # Intuit's consent page (the emulator's), on another origin.
    await expect(page).to_have_url(re.compile(re.escape(live.emulator_url)))
    await page.get_by_label("Company").select_option(live.realm_id)
    await page.get_by_role("button", name="Connect").click()
    await expect(page.get_by_role("heading", name="QuickBooks connected")).to_be_visible()
    await page.get_by_role("link", name="Back to the rentsync console").click()


async def test_i12_owner_signs_in_connects_maps_accounts_and_syncs_tax_rates(
    live: LiveConsole, browser: Any
) -> None:
    company_id, _ = await _company(live, "Sunny Tents")
    owner = await _user(live, company_id, "owner@sunny.example")
    page = await live.new_page(browser)
    await page.goto("/settings/quickbooks")
    await expect(page).to_have_url(re.compile(r"/signin\?next=/settings/quickbooks$"))
    await page.get_by_label("E-mail address").fill(owner)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{live.url}/settings/quickbooks")
    await expect(page.get_by_text("Not connected")).to_be_visible()

    await _connect(page, live)
    await expect(page.get_by_text("Connected", exact=True)).to_be_visible()
    facts = page.locator("#connection-facts")
    await expect(facts).to_contain_text("Sunny Tents LLC")
    await expect(facts).to_contain_text(live.realm_id)
    await expect(facts).to_contain_text("QuickBooks Online Plus")

    # Each drop-down offers only accounts of the types its role allows.
    income = page.get_by_label("Income (rentals and sales)")
    offered = await income.locator("option").all_inner_texts()
    assert "Sales of Product Income" in offered and "Services" in offered
    assert "Checking" not in offered and "Cost of Goods Sold" not in offered
    payable = (
        await page.get_by_label("Accounts payable (vendor bills)")
        .locator("option")
        .all_inner_texts()
    )
    assert payable == ["— not mapped —", "Accounts Payable (A/P)"]
    await income.select_option(label="Services")
    await page.get_by_label("Customer payments deposited to").select_option(
        label="Undeposited Funds"
    )
    await page.get_by_label("What is sent to QuickBooks").select_option("all_orders_and_quotes")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_contain_text("Settings saved")
    saved = await live.services.company_settings.current(company_id)
    assert saved.sync_mode.value == "all_orders_and_quotes"
    accounts = {a.name: a.id for a in await live.services.company_settings.accounts(company_id)}
    assert saved.accounts.income == accounts["Services"]
    assert saved.accounts.deposit == accounts["Undeposited Funds"]
    await expect(income).to_have_value(accounts["Services"])

    await page.get_by_role("link", name="Tax rates").click()
    await expect(page.get_by_text("No tax rates pulled from QuickBooks yet")).to_be_visible()
    await page.get_by_role("button", name="Sync with QuickBooks").click()
    await expect(page.locator("#tax-rates tbody tr").first).to_be_visible()
    await expect(page.get_by_role("status")).to_contain_text("tax rates pulled from QuickBooks")
    stored = await live.services.company_settings.tax_rates(company_id)
    table = await page.locator("#tax-rates").inner_text()
    assert stored and all(r.name in table for r in stored)

    await page.get_by_role("link", name="Audit").click()
    audit = page.locator("#audit")
    for action in (
        "session.signed_in",
        "quickbooks.connect_started",
        "settings.saved",
        "tax_rates.synced",
    ):
        await expect(audit).to_contain_text(action)


async def test_i12_viewer_is_refused_a_change(live: LiveConsole, browser: Any) -> None:
    company_id, _ = await _company(live, "Sunny Tents")
    viewer = await _user(live, company_id, "viewer@sunny.example", Role.VIEWER)
    page = await live.new_page(browser)
    await _sign_in(page, viewer)
    await page.goto("/settings/quickbooks")
    await expect(page.get_by_text("Only an owner connects and disconnects")).to_be_visible()
    assert await page.get_by_role("button", name="Connect to QuickBooks").count() == 0
    assert await page.get_by_role("button", name="Save settings").count() == 0
    await page.goto("/settings/tax-rates")
    assert await page.get_by_role("button", name="Sync with QuickBooks").count() == 0
    assert await page.get_by_role("link", name="Users").count() == 0
    # A forged POST from this browser, with its valid CSRF token, is refused all the same.
    token = next(c["value"] for c in await page.context.cookies() if c["name"] == "csrftoken")
    for path in ("/settings/quickbooks/connect", "/settings/tax-rates/sync", "/users"):
        forged = await page.request.post(path, form={"csrftoken": token, "role": "owner"})
        assert forged.status == 403, path
    assert (await page.goto("/users")).status == 403


async def test_i12_forged_csrf_token_is_refused(live: LiveConsole, browser: Any) -> None:
    company_id, _ = await _company(live, "Sunny Tents")
    owner = await _user(live, company_id, "owner@sunny.example")
    page = await live.new_page(browser)
    await _sign_in(page, owner)
    await page.goto("/users")
    await page.locator('form[action="/users"] input[name="csrftoken"]').evaluate(
        "input => input.value = 'forged'"
    )
    await page.get_by_label("E-mail address").fill("intruder@sunny.example")
    await page.get_by_label("Name").fill("Intruder")
    await page.locator("#new-password").fill(PASSWORD)
    await page.get_by_role("button", name="Add user").click()
    await expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    people = await live.services.people.users(company_id)
    assert [p.email for p in people] == [owner]


async def test_i12_one_company_never_sees_another(live: LiveConsole, browser: Any) -> None:
    sunny, _ = await _company(live, "Sunny Tents")
    hill, _ = await _company(live, "Hillside Chairs")
    sunny_owner = await _user(live, sunny, "owner@sunny.example")
    hill_owner = await _user(live, hill, "owner@hill.example")
    await _user(live, hill, "clerk@hill.example", Role.BOOKKEEPER)
    first = await live.new_page(browser)
    await _sign_in(first, sunny_owner)
    await _connect(first, live)
    await expect(first.locator("#connection-facts")).to_contain_text("Sunny Tents LLC")

    second = await live.new_page(browser)
    await _sign_in(second, hill_owner)
    await second.goto("/settings/quickbooks")
    await expect(second.get_by_text("Not connected")).to_be_visible()
    assert await second.locator("#connection-facts").count() == 0
    await second.goto("/users")
    users = await second.locator("#users").inner_text()
    assert "clerk@hill.example" in users and "sunny.example" not in users
    await first.goto("/users")
    assert "hill.example" not in await first.locator("#users").inner_text()


async def test_i12_sign_in_link_works_once(live: LiveConsole, browser: Any) -> None:
    company_id, key = await _company(live, "Sunny Tents")
    owner = await _user(live, company_id, "owner@sunny.example")
    async with httpx2.AsyncClient(base_url=live.url) as rental_system:
        minted = await rental_system.post(
            "/api/v1/console/sign-in-links",
            json={"email": owner},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert minted.status_code == 201, minted.text
    url = minted.json()["url"]
    assert url.startswith(f"{live.url}/signin/link/")
    page = await live.new_page(browser)
    await page.goto(url)
    await page.get_by_role("button", name="Continue").click()
    await expect(page).to_have_url(f"{live.url}/")
    await expect(page.get_by_role("status")).to_contain_text(f"Signed in as {owner}")

    other = await live.new_page(browser)
    await other.goto(url)
    await other.get_by_role("button", name="Continue").click()
    await expect(
        other.get_by_role("heading", name="This sign-in link cannot be used")
    ).to_be_visible()
    await other.goto("/settings/quickbooks")
    await expect(other).to_have_url(re.compile(r"/signin"))


async def test_i12_sign_in_is_rate_limited(live: LiveConsole, browser: Any) -> None:
    company_id, _ = await _company(live, "Sunny Tents")
    owner = await _user(live, company_id, "owner@sunny.example")
    page = await live.new_page(browser)
    for _ in range(5):
        await _sign_in(page, owner, "a wrong password")
        await expect(page.get_by_role("alert")).to_contain_text("not right")
    await _sign_in(page, owner)
    await expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    await page.goto("/settings/quickbooks")
    await expect(page).to_have_url(re.compile(r"/signin"))
