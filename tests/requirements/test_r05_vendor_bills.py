"""R5 vendor bills and R10 account mapping, through the public API, a real worker and the QBO
emulator: the bill in QBO, its vendor, its accounts, its total and balance."""

from __future__ import annotations

from decimal import Decimal

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import rig_for
from tests.vendor_fixtures import bill, cents, map_vendor_accounts, ready, vendor


async def test_r05_a_bill_is_a_qbo_bill_of_its_vendor_on_the_mapped_accounts(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        await rig.put("products", "P-TENT", make.rental_product())
        body = bill("ACE-1", amounts=("160.00",), category="Subrentals")
        body["lines"] += [
            {"description": "Delivery", "amount": "45.00"},
            {"product_id": "P-TENT", "quantity": "2", "amount": "300.00"},
        ]
        await rig.put("vendor-bills", "B-1", body)
        status = await rig.settled("vendor-bills", "B-1")
        assert status["state"] == "synced", status
        (qbo_bill,) = await rig.qbo_entities("Bill")
        (qbo_vendor,) = await rig.qbo_entities("Vendor")
        assert status["qbo"]["id"] == qbo_bill["Id"]
        assert qbo_vendor["DisplayName"] == "Ace Party Supply"
        assert qbo_vendor["Vendor1099"] is True
        assert ":vendor:V-1]" in qbo_vendor["Notes"]
        assert qbo_bill["VendorRef"]["value"] == qbo_vendor["Id"]
        assert qbo_bill["APAccountRef"]["value"] == rig.accounts["ap"]
        assert qbo_bill["DocNumber"] == "ACE-1"
        assert qbo_bill["DueDate"] == "2026-12-24"
        category, default, product = qbo_bill["Line"]
        assert (
            category["AccountBasedExpenseLineDetail"]["AccountRef"]["value"]
            == (rig.accounts["expense"])
        )
        assert (
            default["AccountBasedExpenseLineDetail"]["AccountRef"]["value"]
            == (rig.accounts["cogs"])
        )
        (item,) = await rig.qbo_entities("Item")
        assert product["ItemBasedExpenseLineDetail"]["ItemRef"]["value"] == item["Id"]
        assert cents(product["ItemBasedExpenseLineDetail"]["Qty"]) == Decimal("2.00")
        assert cents(qbo_bill["TotalAmt"]) == cents(qbo_bill["Balance"]) == Decimal("505.00")
        assert ":vendor_bill:B-1]" in qbo_bill["PrivateNote"]
        vendor_status = await rig.status("vendors", "V-1")
        assert vendor_status["state"] == "synced"
        assert vendor_status["qbo"]["id"] == qbo_vendor["Id"]


async def test_r05_an_updated_bill_updates_the_same_qbo_bill_and_a_deleted_one_is_deleted(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        await rig.put("vendor-bills", "B-1", bill("ACE-1", amounts=("160.00",)))
        first = await rig.settled("vendor-bills", "B-1")
        assert first["state"] == "synced", first
        updated = bill("ACE-1", amounts=("160.00", "40.00"), version=2)
        response = await rig.put("vendor-bills", "B-1", updated)
        second = await rig.settled("vendor-bills", "B-1", revision=response.json()["revision"])
        assert second["state"] == "synced", second
        (qbo_bill,) = await rig.qbo_entities("Bill")
        assert qbo_bill["Id"] == first["qbo"]["id"]
        assert cents(qbo_bill["TotalAmt"]) == Decimal("200.00")
        assert len(qbo_bill["Line"]) == 2
        deleted = await rig.api.delete("/api/v1/vendor-bills/B-1", headers=rig.headers)
        assert deleted.status_code == 202, deleted.text
        gone = await rig.settled("vendor-bills", "B-1", revision=deleted.json()["revision"])
        assert gone["state"] == "synced", gone
        assert await rig.qbo_entities("Bill") == []


async def test_r05_a_vendor_whose_name_a_customer_holds_gets_a_stable_suffixed_name(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        await rig.put("customers", "C-1", make.customer("Harbor Events"))
        await rig.put("products", "P-TENT", make.rental_product())
        await rig.put("orders", "O-1", make.order("3001"))
        assert (await rig.settled("orders", "O-1"))["state"] == "synced"
        await rig.put("vendors", "V-2", vendor("Harbor Events"))
        await rig.put("vendor-bills", "B-2", bill("HB-1", vendor_id="V-2"))
        status = await rig.settled("vendor-bills", "B-2")
        assert status["state"] == "synced", status
        (customer,) = await rig.qbo_entities("Customer")
        assert customer["DisplayName"] == "Harbor Events"
        (qbo_vendor,) = await rig.qbo_entities("Vendor")
        assert qbo_vendor["DisplayName"] == "Harbor Events (vendor)"
        vendor_status = await rig.status("vendors", "V-2")
        assert "Harbor Events (vendor)" in vendor_status["history"][0]["outcome"]
        # An update keeps the suffixed name (the plain one is still a customer's).
        await rig.put("vendors", "V-2", vendor("Harbor Events", phone="555-0111"))
        updated = await rig.settled("vendors", "V-2", attempts_after=1)
        assert updated["state"] == "synced", updated
        (qbo_vendor,) = await rig.qbo_entities("Vendor")
        assert qbo_vendor["DisplayName"] == "Harbor Events (vendor)"
        assert qbo_vendor["PrimaryPhone"]["FreeFormNumber"] == "555-0111"


async def test_r10_a_bill_without_a_payable_account_fails_with_the_remedy_writing_nothing(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await rig.connect()
        await map_vendor_accounts(rig, payable=None)
        await rig.put("vendors", "V-1", vendor())
        await rig.put("vendor-bills", "B-1", bill())
        status = await rig.settled("vendor-bills", "B-1")
        assert status["state"] == "failed", status
        assert status["error"]["code"] == "rentsync_account_not_mapped"
        assert "Accounts Payable" in status["error"]["remedy"]
        assert await rig.qbo_entities("Bill") == []
        assert await rig.qbo_entities("Vendor") == []


async def test_r10_an_unmapped_expense_category_fails_the_bill_never_a_default_account(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        await rig.put("vendor-bills", "B-1", bill(category="Fuel"))
        status = await rig.settled("vendor-bills", "B-1")
        assert status["state"] == "failed", status
        assert status["error"]["code"] == "rentsync_account_not_mapped"
        assert "expense_categories.Fuel" in status["error"]["message"] + str(status["error"])
        assert await rig.qbo_entities("Bill") == []


async def test_r10_an_expense_category_mapped_to_a_bank_account_is_refused_422(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await rig.connect()
        refused = await rig.api.put(
            "/api/v1/settings",
            json={
                "sync_mode": "all_orders_and_quotes",
                "accounts": {"expense_categories": {"Fuel": rig.accounts["bank"]}},
            },
            headers=rig.headers,
        )
        assert refused.status_code == 422, refused.text
        (problem,) = refused.json()["detail"]
        assert problem["loc"] == ["body", "accounts", "expense_categories.Fuel"]
        assert "Expense" in problem["msg"]
