"""Equality indexes: the same answers as a full scan, kept current by every kind of write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.emulator.conftest import Qbo

from qbo_emulator import persist, query
from qbo_emulator.app import create_app
from qbo_emulator.books import Company
from qbo_emulator.testing import fast_config

QUERIES = (
    "select * from Customer where DisplayName = 'Acme'",
    "select * from Customer where DisplayName = 'ACME'",
    "select * from Customer where DisplayName = 'Renamed Co'",
    "select * from Customer where DisplayName = 'Gone Co'",
    "select * from Customer where DisplayName in ('acme', 'Zed', 'Gone Co')",
    "select * from Customer where DisplayName = 'Gone Co' and Active = false",
    "select * from Customer where Active = false",
    "select * from Customer where Active in (true, false) orderby DisplayName",
    "select * from Customer where Id = '{customer}'",
    "select * from Customer where Id = {customer}",
    "select * from Customer where Id in ('{customer}', '99999')",
    "select count(*) from Customer where DisplayName = 'acme'",
    "select Id, DisplayName from Customer where DisplayName = 'Zed'",
    "select * from Invoice where DocNumber = '1001'",
    "select * from Invoice where DocNumber = '01001'",
    "select * from Invoice where DocNumber = '1e3'",
    "select * from Invoice where DocNumber = 1000",
    "select * from Invoice where DocNumber = 'R-7'",
    "select * from Invoice where DocNumber = 'r-7'",
    "select * from Invoice where DocNumber = 'R-8'",
    "select * from Invoice where DocNumber in ('R-7', '1001', '2001')",
    "select * from Invoice where CustomerRef = '{customer}' orderby TotalAmt desc",
    "select * from Invoice where CustomerRef = '{customer}' and DocNumber = 'R-7'",
    "select * from Invoice where TxnDate = '2025-03-01'",
    "select * from Item where Name = 'Tent rental'",
    "select * from Item where Name = 'Chair rental' and Type = 'Service'",
    "select * from Item where Type = 'Service' orderby Name",
    "select * from Account where Name = 'Undeposited Funds'",
    "select * from Vendor where DisplayName = 'Acme'",
    "select * from TaxCode where Name = 'TAX'",
    "select * from Customer where MetaData.CreateTime = '2000-01-01T00:00:00-07:00'",
)


def _scan(company: Company, text: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as patch:
        patch.setattr(query, "_indexed", lambda *args: None)
        return query.run(company, text)


def _assert_same_as_scan(company: Company, monkeypatch: pytest.MonkeyPatch, **ids: str) -> None:
    for text in QUERIES:
        text = text.format(**ids)
        assert query.run(company, text) == _scan(company, text, monkeypatch), text


async def _invoice(qbo: Qbo, customer: str, item: str, amount: int, **extra: Any) -> Any:
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": amount,
        "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": amount},
    }
    return await qbo.create(
        "Invoice", {"CustomerRef": {"value": customer}, "Line": [line], **extra}
    )


async def _populate(qbo: Qbo) -> dict[str, str]:
    acme = await qbo.customer("Acme")
    await qbo.customer("Zed")
    renamed = await qbo.customer("Old Name Co")
    gone = await qbo.customer("Gone Co")
    tent = await qbo.service_item("Tent rental")
    await qbo.service_item("Chair rental")
    await qbo.create("Vendor", {"DisplayName": "Supplier"})
    await _invoice(qbo, acme["Id"], tent["Id"], 50)  # auto-numbered 1001
    await _invoice(qbo, acme["Id"], tent["Id"], 70, DocNumber="R-7", TxnDate="2025-03-01")
    dropped = await _invoice(qbo, acme["Id"], tent["Id"], 20, DocNumber="R-9")
    voided = await _invoice(qbo, acme["Id"], tent["Id"], 30, DocNumber="1000")
    # a full update renames; a sparse update renumbers; an admin edit deactivates
    await qbo.create(
        "Customer", {"Id": renamed["Id"], "SyncToken": renamed["SyncToken"], "DisplayName": "X"}
    )
    current = qbo.company.require("Customer", renamed["Id"])
    await qbo.create(
        "Customer",
        {"Id": renamed["Id"], "SyncToken": current["SyncToken"], "DisplayName": "Renamed Co"},
    )
    await qbo.post(
        "invoice", {"Id": dropped["Id"], "SyncToken": dropped["SyncToken"], "sparse": True}
    )
    response = await qbo.client.post(
        f"/admin/companies/{qbo.realm}/act/Customer/{gone['Id']}/deactivate"
    )
    assert response.status_code == 200
    deleted = await qbo.post(
        "invoice",
        {
            "Id": dropped["Id"],
            "SyncToken": qbo.company.require("Invoice", dropped["Id"])["SyncToken"],
        },
        operation="delete",
    )
    assert deleted.status_code == 200
    void = await qbo.post(
        "invoice", {"Id": voided["Id"], "SyncToken": voided["SyncToken"]}, operation="void"
    )
    assert void.status_code == 200
    return {"customer": acme["Id"], "item": tent["Id"]}


async def test_indexed_queries_answer_exactly_like_a_scan(
    qbo: Qbo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _assert_same_as_scan(qbo.company, monkeypatch, customer="1", item="1")  # built while empty
    ids = await _populate(qbo)
    _assert_same_as_scan(qbo.company, monkeypatch, **ids)
    fields = qbo.company.indexes.tables["Customer"].fields
    assert ("query", "DisplayName") in fields and ("unique", "DisplayName") in fields
    body = await qbo.query("select * from Invoice where DocNumber = 'r-7'")
    assert [i["DocNumber"] for i in body["QueryResponse"]["Invoice"]] == ["R-7"]
    renamed = await qbo.query("select * from Customer where DisplayName = 'Old Name Co'")
    assert renamed["QueryResponse"] == {}


async def test_name_and_doc_number_checks_follow_renames_and_deletes(qbo: Qbo) -> None:
    ids = await _populate(qbo)
    # "Old Name Co" was renamed, "R-9" deleted: both are free again
    await qbo.customer("Old Name Co")
    customer, item = ids["customer"], ids["item"]
    await _invoice(qbo, customer, item, 5, DocNumber="R-9")
    for name in ("renamed co", " ACME ", "Supplier"):
        taken = await qbo.post("customer", {"DisplayName": name})
        assert taken.json()["Fault"]["Error"][0]["code"] == "6240", name
    duplicate = await qbo.post(
        "invoice",
        {
            "CustomerRef": {"value": customer},
            "DocNumber": "R-7",
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 1,
                    "SalesItemLineDetail": {"ItemRef": {"value": item}},
                }
            ],
        },
    )
    assert duplicate.json()["Fault"]["Error"][0]["code"] == "6140"


async def test_indexes_after_load_and_reset(
    qbo: Qbo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ids = await _populate(qbo)
    _assert_same_as_scan(qbo.company, monkeypatch, **ids)
    path = str(tmp_path / "state.json")
    persist.save(qbo.app.emulator, path)
    fresh = create_app(fast_config())
    persist.load(fresh.emulator, path)
    loaded = fresh.emulator.companies[qbo.realm]
    assert not loaded.indexes.tables
    _assert_same_as_scan(loaded, monkeypatch, **ids)
    # loading over a used emulator replaces the company and its indexes
    await qbo.customer("After save")
    persist.load(qbo.app.emulator, path)
    assert query.run(qbo.company, "select * from Customer where DisplayName = 'After save'") == {}
    await qbo.customer("After save")
    reset = await qbo.client.post("/admin/reset")
    assert reset.status_code == 200 and qbo.app.emulator.companies == {}
