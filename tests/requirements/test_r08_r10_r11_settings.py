"""R8 tax rates, R10 account mapping, R11 sync mode: the company's settings as the API offers
them, checked against the connected QBO company."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import Rig, rig_for


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    async with rig_for(settings) as connected:
        await connected.connect()
        yield connected


async def test_r08_tax_rates_are_pulled_from_qbo_and_offered(rig: Rig) -> None:
    assert (await rig.api.get("/api/v1/tax-rates", headers=rig.headers)).json() == []
    pulled = await rig.sync_tax_rates()
    codes = await rig.qbo_entities("TaxCode")
    numeric = {c["Id"] for c in codes if str(c["Id"]).isdigit()}
    assert {r["id"] for r in pulled} == numeric
    assert all(Decimal(str(r["rate_percent"])) >= 0 for r in pulled)
    listed = (await rig.api.get("/api/v1/tax-rates", headers=rig.headers)).json()
    assert [r["id"] for r in listed] == [r["id"] for r in pulled]


async def test_r08_invoice_references_the_synced_tax_rate(rig: Rig) -> None:
    await rig.map_accounts()
    rate = next(r for r in await rig.sync_tax_rates() if Decimal(str(r["rate_percent"])) > 0)
    await rig.put("customers", "C-1", make.customer())
    await rig.put("products", "P-TENT", make.rental_product())
    tax = (Decimal("450.00") * Decimal(str(rate["rate_percent"])) / 100).quantize(Decimal("0.01"))
    await rig.put("orders", "O-1", make.order("2001", tax=str(tax), tax_rate_id=rate["id"]))
    assert (await rig.settled("orders", "O-1"))["state"] == "synced"
    (invoice,) = await rig.qbo_entities("Invoice")
    assert invoice["TxnTaxDetail"]["TxnTaxCodeRef"]["value"] == rate["id"]
    assert Decimal(str(invoice["TxnTaxDetail"]["TotalTax"])) == tax


async def test_r08_an_order_naming_an_unsynced_tax_rate_fails_with_a_remedy(rig: Rig) -> None:
    await rig.map_accounts()
    await rig.put("customers", "C-1", make.customer())
    await rig.put("products", "P-TENT", make.rental_product())
    await rig.put("orders", "O-1", make.order("2002", tax="10.00", tax_rate_id="999"))
    status = await rig.settled("orders", "O-1")
    assert status["state"] == "failed"
    assert status["error"]["code"] == "rentsync_tax_rate_not_synced"
    assert "Sync with QuickBooks" in status["error"]["remedy"]


async def test_r10_account_of_the_wrong_type_is_refused_naming_the_role(rig: Rig) -> None:
    response = await rig.api.put(
        "/api/v1/settings",
        json={"accounts": {"income": rig.accounts["bank"], "expense": rig.accounts["cogs"]}},
        headers=rig.headers,
    )
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "accounts", "income"]
    assert "must be Income or Other Income" in problem["msg"]
    assert (await rig.api.get("/api/v1/settings", headers=rig.headers)).json()["accounts"][
        "income"
    ] is None


async def test_r10_unknown_account_is_refused(rig: Rig) -> None:
    response = await rig.api.put(
        "/api/v1/settings", json={"accounts": {"deposit": "99999"}}, headers=rig.headers
    )
    assert response.status_code == 422
    assert "no account with Id 99999" in response.text


async def test_r10_i9_an_inactive_account_is_reported_inactive_with_the_remedy(rig: Rig) -> None:
    await rig.act("Account", rig.accounts["undeposited"], "deactivate")
    response = await rig.api.put(
        "/api/v1/settings",
        json={"accounts": {"deposit": rig.accounts["undeposited"]}},
        headers=rig.headers,
    )
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "accounts", "deposit"]
    assert "is inactive in QuickBooks" in problem["msg"]
    assert "make it active again" in problem["msg"]
    assert "no account with Id" not in problem["msg"]
    accounts = (await rig.api.get("/api/v1/qbo/accounts", headers=rig.headers)).json()
    (listed,) = [a for a in accounts if a["id"] == rig.accounts["undeposited"]]
    assert listed["active"] is False


async def test_r10_chart_of_accounts_is_readable_for_the_mapping(rig: Rig) -> None:
    accounts = (await rig.api.get("/api/v1/qbo/accounts", headers=rig.headers)).json()
    by_id = {a["id"]: a for a in accounts}
    assert by_id[rig.accounts["income"]]["account_type"] == "Income"
    assert by_id[rig.accounts["ap"]]["account_type"] == "Accounts Payable"


async def test_r10_items_post_to_the_mapped_income_account(rig: Rig) -> None:
    await rig.map_accounts()
    await rig.put("customers", "C-1", make.customer())
    await rig.put("products", "P-TENT", make.rental_product())
    await rig.put("orders", "O-1", make.order("2003"))
    assert (await rig.settled("orders", "O-1"))["state"] == "synced"
    item = next(i for i in await rig.qbo_entities("Item") if i["Name"] == "Tent 20x30")
    assert item["IncomeAccountRef"]["value"] == rig.accounts["income"]


async def test_r10_an_unmapped_income_account_fails_before_writing(rig: Rig) -> None:
    await rig.put("customers", "C-1", make.customer())
    await rig.put("products", "P-TENT", make.rental_product())
    await rig.put("orders", "O-1", make.order("2004"))
    status = await rig.settled("orders", "O-1")
    assert status["state"] == "failed"
    assert status["error"]["code"] == "rentsync_account_not_mapped"
    assert await rig.qbo_entities("Invoice") == []


async def test_r11_quote_without_payment_is_skipped_in_mode_with_payment(rig: Rig) -> None:
    await rig.map_accounts()
    saved = await rig.api.get("/api/v1/settings", headers=rig.headers)
    with_payment = {**saved.json(), "sync_mode": "orders_and_quotes_with_payment"}
    assert (
        await rig.api.put("/api/v1/settings", json=with_payment, headers=rig.headers)
    ).status_code == 200
    await rig.put("customers", "C-1", make.customer())
    await rig.put("products", "P-TENT", make.rental_product())
    await rig.put("orders", "Q-1", make.order("2005", kind="quote"))
    skipped = await rig.settled("orders", "Q-1")
    assert skipped["state"] == "skipped"
    assert skipped["skip"]["reason"] == "quote_without_payment"
    paid = await rig.put("orders", "Q-1", make.order("2005", kind="quote", has_payment=True))
    synced = await rig.settled("orders", "Q-1", revision=paid.json()["revision"])
    assert synced["state"] == "synced"
    await rig.put("orders", "O-2", make.order("2006"))
    assert (await rig.settled("orders", "O-2"))["state"] == "synced", "orders always sync"


async def test_r11_quote_syncs_in_mode_all_orders_and_quotes(rig: Rig) -> None:
    await rig.map_accounts()  # mode: all_orders_and_quotes
    await rig.put("customers", "C-1", make.customer())
    await rig.put("products", "P-TENT", make.rental_product())
    await rig.put("orders", "Q-2", make.order("2007", kind="quote"))
    assert (await rig.settled("orders", "Q-2"))["state"] == "synced"


async def test_r08_sync_with_quickbooks_also_rereads_automated_sales_tax(rig: Rig) -> None:
    before = (await rig.api.get("/api/v1/qbo/connection", headers=rig.headers)).json()
    assert before["ast_enabled"] is False
    patched = await rig.qbo.patch(
        f"/admin/companies/{rig.realm}/preferences", json={"TaxPrefs": {"PartnerTaxEnabled": True}}
    )
    assert patched.status_code == 200, patched.text
    await rig.sync_tax_rates()
    after = (await rig.api.get("/api/v1/qbo/connection", headers=rig.headers)).json()
    assert after["ast_enabled"] is True


async def test_r10_qbo_unavailable_while_checking_the_mapping_is_a_clear_502(rig: Rig) -> None:
    await rig.faults({"next": ["error", "error"]})
    response = await rig.api.put(
        "/api/v1/settings",
        json={"accounts": {"income": rig.accounts["income"]}},
        headers=rig.headers,
    )
    assert response.status_code == 502
    body = response.json()
    assert body["detail"].startswith("QuickBooks:")
    assert body["code"] and body["remedy"]
    assert (await rig.api.get("/api/v1/settings", headers=rig.headers)).json()["accounts"][
        "income"
    ] is None
