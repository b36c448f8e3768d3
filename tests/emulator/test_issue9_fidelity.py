"""Issue 9 ("Hardening from outside testing"): the emulator answers like QBO (see choices.py)."""

from __future__ import annotations

from tests.emulator.conftest import Qbo


async def test_a_non_numeric_id_is_2030_invalid_id(qbo: Qbo) -> None:
    read = await qbo.client.get(qbo.url("invoice/abc"))
    assert read.status_code == 400
    error = read.json()["Fault"]["Error"][0]
    assert (error["code"], error["Message"], error["element"]) == ("2030", "Invalid ID", "Id")
    assert error["Detail"].endswith("Supplied value:abc")
    update = await qbo.post("customer", {"Id": "x1", "SyncToken": "0", "sparse": True})
    assert update.json()["Fault"]["Error"][0]["code"] == "2030"
    missing = await qbo.client.get(qbo.url("invoice/424242"))
    assert missing.json()["Fault"]["Error"][0]["code"] == "610"


async def test_a_reference_to_a_missing_object_is_2500_in_qbos_words(qbo: Qbo) -> None:
    item = await qbo.service_item()
    response = await qbo.post(
        "invoice",
        {
            "CustomerRef": {"value": "424242"},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 1,
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                }
            ],
        },
    )
    error = response.json()["Fault"]["Error"][0]
    assert error == {
        "Message": "Invalid Reference Id",
        "Detail": "Invalid Reference Id : Names element id 424242 not found",
        "code": "2500",
        "element": "",
    }
    customer = await qbo.customer()
    bad_item = await qbo.post(
        "invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 1,
                    "SalesItemLineDetail": {"ItemRef": {"value": "999"}},
                }
            ],
        },
    )
    detail = bad_item.json()["Fault"]["Error"][0]["Detail"]
    assert detail == "Invalid Reference Id : Items element id 999 not found"


async def test_projection_carries_only_the_selected_fields_and_sparse(qbo: Qbo) -> None:
    customer = await qbo.customer("Accenture")
    body = await qbo.query(
        "select Id, DisplayName, SyncToken from Customer where DisplayName in ('Accenture')"
    )
    response = body["QueryResponse"]
    assert response["Customer"] == [
        {"sparse": True, "Id": customer["Id"], "SyncToken": "0", "DisplayName": "Accenture"}
    ]
    assert (response["startPosition"], response["maxResults"]) == (1, 1)
    count = await qbo.query("select count(*) from Customer where DisplayName = 'Accenture'")
    assert count["QueryResponse"] == {"totalCount": 1}
