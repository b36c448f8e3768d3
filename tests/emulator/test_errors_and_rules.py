"""QBO's business rules and error envelopes."""

from __future__ import annotations

import httpx2
from tests.emulator.conftest import Qbo

from qbo_emulator.testing import emulator_transport


async def test_display_name_unique_across_customers_and_vendors_6240(qbo: Qbo) -> None:
    await qbo.customer("Shared Name")
    response = await qbo.post("vendor", {"DisplayName": "shared name"})
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["code"] == "6240"


async def test_unknown_field_is_2010_and_missing_required_is_2020(qbo: Qbo) -> None:
    unknown = await qbo.post("customer", {"DisplayName": "X", "Nickname": "x"})
    assert unknown.json()["Fault"]["Error"][0] == {
        **unknown.json()["Fault"]["Error"][0],
        "code": "2010",
        "element": "Nickname",
    }
    customer = await qbo.customer()
    missing = await qbo.post("invoice", {"CustomerRef": {"value": customer["Id"]}})
    error = missing.json()["Fault"]["Error"][0]
    assert (error["code"], error["element"]) == ("2020", "Line")
    assert (
        error["Message"] == "Required param missing, need to supply the required value for the API"
    )


async def test_inactive_customer_is_refused_on_a_new_invoice(qbo: Qbo) -> None:
    customer = await qbo.customer()
    item = await qbo.service_item()
    admin = await qbo.client.post(
        f"/admin/companies/{qbo.realm}/act/Customer/{customer['Id']}/deactivate"
    )
    assert admin.status_code == 200
    response = await qbo.post(
        "invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 1,
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                }
            ],
        },
    )
    assert response.json()["Fault"]["Error"][0]["code"] == "610"
    unknown = await qbo.post("invoice", {"CustomerRef": {"value": "424242"}, "Line": []})
    assert unknown.json()["Fault"]["Error"][0]["code"] in {"2020", "2500"}


async def test_inactive_customers_are_hidden_from_default_queries(qbo: Qbo) -> None:
    customer = await qbo.customer("Gone")
    await qbo.client.post(f"/admin/companies/{qbo.realm}/act/Customer/{customer['Id']}/deactivate")
    assert (await qbo.query("select * from Customer"))["QueryResponse"] == {}
    body = await qbo.query("select * from Customer where Active = false")
    assert body["QueryResponse"]["Customer"][0]["Active"] is False


async def test_closed_books_refuse_writes_dated_on_or_before_close_6210(qbo: Qbo) -> None:
    customer = await qbo.customer()
    item = await qbo.service_item()
    await qbo.client.post(f"/admin/companies/{qbo.realm}/close-books", json={"date": "2025-03-31"})
    body = {
        "CustomerRef": {"value": customer["Id"]},
        "TxnDate": "2025-03-31",
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": 1,
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
            }
        ],
    }
    response = await qbo.post("invoice", body)
    assert response.json()["Fault"]["Error"][0]["code"] == "6210"
    assert (await qbo.post("invoice", {**body, "TxnDate": "2025-04-01"})).status_code == 200
    prefs = (await qbo.client.get(qbo.url("preferences"))).json()["Preferences"]
    assert prefs["AccountingInfoPrefs"]["BookCloseDate"] == "2025-03-31"


async def test_inventory_item_and_txn_before_inv_start_date_6270(qbo: Qbo) -> None:
    item = await qbo.create(
        "Item",
        {
            "Name": "Tent 10x20",
            "Type": "Inventory",
            "TrackQtyOnHand": True,
            "QtyOnHand": 1500,
            "InvStartDate": "2025-06-11T00:00:00",
            "IncomeAccountRef": {"value": qbo.account("income")},
            "ExpenseAccountRef": {"value": qbo.account("cogs")},
            "AssetAccountRef": {"value": qbo.account("inventory")},
        },
    )
    assert item["InvStartDate"] == "2025-06-11" and item["QtyOnHand"] == 1500
    customer = await qbo.customer()
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 20,
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 2, "UnitPrice": 10},
    }
    early = await qbo.post(
        "invoice",
        {"CustomerRef": {"value": customer["Id"]}, "TxnDate": "2025-06-10", "Line": [line]},
    )
    assert early.json()["Fault"]["Error"][0]["code"] == "6270"
    await qbo.create(
        "Invoice",
        {"CustomerRef": {"value": customer["Id"]}, "TxnDate": "2025-06-12", "Line": [line]},
    )
    stock = (await qbo.client.get(qbo.url(f"item/{item['Id']}"))).json()["Item"]
    assert stock["QtyOnHand"] == 1498


async def test_essentials_company_rejects_inventory_items_and_purchase_orders(make_qbo) -> None:  # type: ignore[no-untyped-def]
    qbo: Qbo = await make_qbo(plan="essentials")
    response = await qbo.post(
        "item",
        {
            "Name": "Tent",
            "Type": "Inventory",
            "TrackQtyOnHand": True,
            "QtyOnHand": 1,
            "InvStartDate": "2025-01-01",
            "IncomeAccountRef": {"value": qbo.account("income")},
            "ExpenseAccountRef": {"value": qbo.account("cogs")},
            "AssetAccountRef": {"value": qbo.account("inventory")},
        },
    )
    assert response.json()["Fault"]["Error"][0]["code"] == "5020"
    vendor = await qbo.create("Vendor", {"DisplayName": "V"})
    order = await qbo.post(
        "purchaseorder",
        {
            "VendorRef": {"value": vendor["Id"]},
            "Line": [
                {
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "Amount": 5,
                    "AccountBasedExpenseLineDetail": {
                        "AccountRef": {"value": qbo.account("expense")}
                    },
                }
            ],
        },
    )
    assert order.json()["Fault"]["Error"][0]["code"] == "5020"


async def test_ast_company_ignores_sent_tax_code_unless_total_tax_overridden(make_qbo) -> None:  # type: ignore[no-untyped-def]
    qbo: Qbo = await make_qbo(ast=True)
    prefs = (await qbo.client.get(qbo.url("preferences"))).json()["Preferences"]
    assert prefs["TaxPrefs"]["PartnerTaxEnabled"] is True
    customer = await qbo.customer()
    item = await qbo.service_item()
    body = {
        "CustomerRef": {"value": customer["Id"]},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": 100,
                "SalesItemLineDetail": {
                    "ItemRef": {"value": item["Id"]},
                    "TaxCodeRef": {"value": "TAX"},
                },
            }
        ],
        "TxnTaxDetail": {"TxnTaxCodeRef": {"value": qbo.tax_code_id("Local 8%")}},
    }
    invoice = await qbo.create("Invoice", body)
    assert invoice["TxnTaxDetail"]["TotalTax"] == 8.25  # AST's own rate, not 8%
    assert invoice["TxnTaxDetail"]["TxnTaxCodeRef"]["value"] == qbo.company.ast_code_id
    body["TxnTaxDetail"] = {**body["TxnTaxDetail"], "TotalTax": 7.5}
    overridden = await qbo.create("Invoice", body)
    assert overridden["TxnTaxDetail"]["TotalTax"] == 7.5 and overridden["TotalAmt"] == 107.5


async def test_missing_token_gives_lowercase_401_body(qbo: Qbo) -> None:
    async with httpx2.AsyncClient(
        transport=emulator_transport(qbo.app), base_url="http://qbo.test"
    ) as anonymous:
        response = await anonymous.get(qbo.url("preferences"))
    assert response.status_code == 401
    body = response.json()
    assert body["fault"]["error"][0]["code"] == "3200" and body["fault"]["type"] == "AUTHENTICATION"
    assert body["queryResponse"] is None and isinstance(body["time"], int)
    assert response.headers["intuit_tid"]


async def test_token_for_another_realm_gives_403(qbo: Qbo) -> None:
    response = await qbo.client.get("/v3/company/123/preferences")
    assert response.status_code == 403
    assert response.json()["fault"]["error"][0]["code"] == "3100"


async def test_company_info_and_preferences_read(qbo: Qbo) -> None:
    info = (await qbo.client.get(qbo.url(f"companyinfo/{qbo.realm}"))).json()
    assert info["CompanyInfo"]["Country"] == "US" and info["CompanyInfo"]["Id"] == "1"


async def test_deactivating_a_name_renames_it_deleted_and_frees_the_name(qbo: Qbo) -> None:
    customer = await qbo.customer("Harbor Events")
    item = await qbo.service_item("Tent")
    vendor = await qbo.create("Vendor", {"DisplayName": "Canvas Co"})
    for entity, obj in (("Customer", customer), ("Item", item), ("Vendor", vendor)):
        response = await qbo.post(
            entity.lower(), {"Id": obj["Id"], "SyncToken": "0", "sparse": True, "Active": False}
        )
        gone = response.json()[entity]
        field = "Name" if entity == "Item" else "DisplayName"
        assert gone[field] == f"{obj[field]} (deleted)"
        assert gone["FullyQualifiedName"] == f"{obj[field]} (deleted)"
    again = await qbo.customer("Harbor Events")  # no 6240: the name is free
    await qbo.service_item("Tent")
    await qbo.create("Vendor", {"DisplayName": "Canvas Co"})
    await qbo.post(
        "customer", {"Id": again["Id"], "SyncToken": "0", "sparse": True, "Active": False}
    )
    second = await qbo.query(
        f"select * from Customer where Id = '{again['Id']}' and Active = false"
    )
    assert second["QueryResponse"]["Customer"][0]["DisplayName"] == "Harbor Events (deleted-1)"
    await qbo.customer("Harbor Events")  # the name is taken again
    refused = await qbo.post(
        "customer", {"Id": customer["Id"], "SyncToken": "1", "sparse": True, "Active": True}
    )
    assert refused.json()["Fault"]["Error"][0]["code"] == "6240"


async def test_reactivating_takes_the_original_name_back(qbo: Qbo) -> None:
    customer = await qbo.customer("Lakeside")
    admin = f"/admin/companies/{qbo.realm}/act/Customer/{customer['Id']}"
    gone = (await qbo.client.post(f"{admin}/deactivate")).json()
    assert gone["Customer"]["DisplayName"] == "Lakeside (deleted)"
    back = (await qbo.client.post(f"{admin}/activate")).json()
    assert back["Customer"]["DisplayName"] == "Lakeside" and back["Customer"]["Active"] is True
