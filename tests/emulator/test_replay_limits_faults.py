"""requestid replay, limits (429 XML), fault injection, batch and CDC."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from tests.emulator.conftest import Qbo


def _recent() -> str:
    """A changedSince within CDC's 30-day look-back."""
    return (datetime.now(UTC) - timedelta(days=1)).isoformat()


async def test_same_requestid_returns_original_response_and_writes_nothing(qbo: Qbo) -> None:
    first = await qbo.post("customer", {"DisplayName": "Once"}, requestid="req-1")
    second = await qbo.post("customer", {"DisplayName": "Once"}, requestid="req-1")
    assert second.status_code == 200 and second.content == first.content
    assert len(qbo.company.table("Customer")) == 1


async def test_requestid_replays_a_fault_too(qbo: Qbo) -> None:
    await qbo.customer("Taken")
    first = await qbo.post("customer", {"DisplayName": "Taken"}, requestid="req-2")
    second = await qbo.post("customer", {"DisplayName": "Other"}, requestid="req-2")
    assert first.status_code == second.status_code == 400
    assert second.content == first.content


async def test_requests_over_the_minute_limit_get_429_xml(qbo: Qbo) -> None:
    limits = await qbo.client.put(
        f"/admin/companies/{qbo.realm}/limits", json={"enabled": True, "per_minute": 3}
    )
    assert limits.json()["per_minute"] == 3
    statuses = [(await qbo.client.get(qbo.url("preferences"))).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = await qbo.client.get(qbo.url("preferences"))
    assert throttled.headers["content-type"].startswith("application/xml")
    assert b'<Error code="3001">' in throttled.content and b"ThrottleExceeded" in throttled.content


async def test_more_than_ten_in_flight_get_429(qbo: Qbo) -> None:
    await qbo.client.put(f"/admin/companies/{qbo.realm}/limits", json={"enabled": True})
    await qbo.client.put(
        f"/admin/companies/{qbo.realm}/faults",
        json={"latency": {"distribution": "fixed", "ms": 50}},
    )
    responses = await asyncio.gather(*(qbo.client.get(qbo.url("preferences")) for _ in range(12)))
    assert sorted(r.status_code for r in responses) == [200] * 10 + [429] * 2


async def test_batch_over_30_items_is_1040_and_per_item_faults_carry_bid(qbo: Qbo) -> None:
    too_many = {
        "BatchItemRequest": [{"bId": str(i), "Query": "select * from Item"} for i in range(31)]
    }
    response = await qbo.post("batch", too_many)
    assert response.json()["Fault"]["Error"][0]["code"] == "1040"
    await qbo.customer("Dup")
    batch = await qbo.post(
        "batch",
        {
            "BatchItemRequest": [
                {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Fresh"}},
                {"bId": "2", "operation": "create", "Customer": {"DisplayName": "Dup"}},
                {"bId": "3", "Query": "select * from Customer where DisplayName = 'Fresh'"},
            ]
        },
    )
    items = {item["bId"]: item for item in batch.json()["BatchItemResponse"]}
    assert items["1"]["Customer"]["DisplayName"] == "Fresh"
    assert items["2"]["Fault"]["Error"][0]["code"] == "6240"
    assert items["2"]["Fault"]["type"] == "ValidationFault"
    assert items["3"]["QueryResponse"] == {}  # items do not see earlier creates (choices.py)


async def test_cdc_lists_changes_and_deleted_objects(qbo: Qbo) -> None:
    customer = await qbo.customer("Changed")
    vendor = await qbo.create("Vendor", {"DisplayName": "Bill Vendor"})
    bill = await qbo.create(
        "Bill",
        {
            "VendorRef": {"value": vendor["Id"]},
            "Line": [
                {
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "Amount": 1,
                    "AccountBasedExpenseLineDetail": {
                        "AccountRef": {"value": qbo.account("expense")}
                    },
                }
            ],
        },
    )
    await qbo.post("bill", {"Id": bill["Id"], "SyncToken": "0"}, operation="delete")
    response = await qbo.client.get(
        qbo.url("cdc"),
        params={"entities": "Customer,Bill", "changedSince": _recent()},
    )
    results = response.json()["CDCResponse"][0]["QueryResponse"]
    assert results[0]["Customer"][0]["Id"] == customer["Id"]
    assert results[1]["Bill"] == [{**results[1]["Bill"][0], "Id": bill["Id"], "status": "Deleted"}]


async def test_injected_5xx_and_throttle_are_deterministic(qbo: Qbo) -> None:
    async def run() -> list[int]:
        await qbo.client.put(
            f"/admin/companies/{qbo.realm}/faults", json={"seed": 7, "error_rate": 0.5}
        )
        return [(await qbo.client.get(qbo.url("preferences"))).status_code for _ in range(20)]

    first, second = await run(), await run()
    assert first == second and 503 in first and 200 in first
    await qbo.client.put(f"/admin/companies/{qbo.realm}/faults", json={"next": ["throttle"]})
    assert (await qbo.client.get(qbo.url("preferences"))).status_code == 429
    assert (await qbo.client.get(qbo.url("preferences"))).status_code == 200


async def test_drop_after_commit_applies_the_write_but_sends_nothing(qbo: Qbo) -> None:
    await qbo.client.put(f"/admin/companies/{qbo.realm}/faults", json={"next": ["drop"]})
    with pytest.raises(httpx2.RemoteProtocolError):
        await qbo.post("customer", {"DisplayName": "Committed"}, requestid="drop-1")
    assert [c["DisplayName"] for c in qbo.company.table("Customer").values()] == ["Committed"]
    retry = await qbo.post("customer", {"DisplayName": "Committed"}, requestid="drop-1")
    assert retry.status_code == 200 and len(qbo.company.table("Customer")) == 1


async def test_locked_object_update_is_refused(qbo: Qbo) -> None:
    customer = await qbo.customer("Locked")
    await qbo.client.put(
        f"/admin/companies/{qbo.realm}/faults",
        json={"locked": [{"entity": "Customer", "id": customer["Id"]}]},
    )
    response = await qbo.post(
        "customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"}
    )
    error = response.json()["Fault"]["Error"][0]
    assert response.status_code == 400 and "in use by another user" in error["Detail"]


async def test_admin_edit_behind_the_back_makes_client_token_stale(qbo: Qbo) -> None:
    customer = await qbo.customer("Edited")
    edit = await qbo.client.post(
        f"/admin/companies/{qbo.realm}/act/Customer/{customer['Id']}/edit", json={"Notes": "UI"}
    )
    assert edit.json()["Customer"]["SyncToken"] == "1"
    response = await qbo.post(
        "customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "API"}
    )
    assert response.json()["Fault"]["Error"][0]["code"] == "5010"


async def test_admin_lists_companies_and_creates_presets(qbo: Qbo) -> None:
    created = await qbo.client.post(
        "/admin/companies",
        json={"plan": "essentials", "ast": True, "book_close_date": "2024-12-31"},
    )
    assert created.status_code == 201
    body = created.json()
    assert body["plan"] == "essentials" and body["ast"] is True
    assert body["bookCloseDate"] == "2024-12-31" and "undeposited" in body["accounts"]
    listed = (await qbo.client.get("/admin/companies")).json()
    assert {c["realmId"] for c in listed} == {qbo.realm, body["realmId"]}
