"""Issue 12: the QuickBooks settings page saves through the same service as the API, so a
forged choice (an account of the wrong type, which the drop-down never offers) is refused
with the reason beside its field and nothing is stored."""

from __future__ import annotations

from rentsync.settings import Settings
from tests.qbo_fixtures import qbo_harness
from tests.web.console_fixtures import add_user, form_post, sign_in, text_of


async def test_i12_a_forged_account_choice_is_refused_by_the_shared_check(
    settings: Settings,
) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        owner = await add_user(h.services, h.company_id, "owner@harness.example")
        assert (await sign_in(h.api, owner)).status_code == 303
        accounts = {a.name: a.id for a in await h.services.company_settings.accounts(h.company_id)}
        refused = await form_post(
            h.api,
            "/settings/quickbooks/settings",
            {"sync_mode": "all_orders_and_quotes", "income": accounts["Checking"], "deposit": ""},
        )
        assert refused.status_code == 422
        text = text_of(refused)
        assert (
            "'Checking' is a Bank account; the income account must be Income or Other Income"
            in text
        )
        assert 'aria-invalid="true"' in refused.text
        stored = await h.services.company_settings.current(h.company_id)
        assert stored.sync_mode.value == "orders_and_quotes_with_payment"
        assert stored.accounts.income is None
        # The API says the same through the same service.
        api = await h.api.put(
            "/api/v1/settings",
            json={"accounts": {"income": accounts["Checking"]}},
            headers=h.headers,
        )
        assert api.status_code == 422
        assert api.json()["detail"][0]["loc"] == ["body", "accounts", "income"]
        # A choice from the list is saved and audited.
        saved = await form_post(
            h.api,
            "/settings/quickbooks/settings",
            {"sync_mode": "all_orders_and_quotes", "income": accounts["Services"]},
        )
        assert saved.status_code == 303
        stored = await h.services.company_settings.current(h.company_id)
        assert stored.accounts.income == accounts["Services"]
        audit = await h.services.audit.of_company(h.company_id)
        assert audit[0].action == "settings.saved" and audit[0].actor == owner.email
