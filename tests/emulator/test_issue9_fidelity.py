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


async def test_batch_items_do_not_see_objects_created_earlier_in_the_batch(qbo: Qbo) -> None:
    item = await qbo.service_item()
    response = await qbo.post(
        "batch",
        {
            "BatchItemRequest": [
                {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Batch Co"}},
                {"bId": "2", "Query": "select * from Customer where DisplayName = 'Batch Co'"},
            ]
        },
    )
    answers = {a["bId"]: a for a in response.json()["BatchItemResponse"]}
    customer_id = answers["1"]["Customer"]["Id"]
    assert answers["2"]["QueryResponse"] == {}
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 1,
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
    }
    second = await qbo.post(
        "batch",
        {
            "BatchItemRequest": [
                {"bId": "a", "operation": "create", "Customer": {"DisplayName": "Other Co"}},
                {
                    "bId": "b",
                    "operation": "create",
                    "Invoice": {
                        "CustomerRef": {"value": str(int(customer_id) + 1)},
                        "Line": [line],
                    },
                },
            ]
        },
    )
    answers = {a["bId"]: a for a in second.json()["BatchItemResponse"]}
    assert answers["a"]["Customer"]["Id"] == str(int(customer_id) + 1)
    assert answers["b"]["Fault"]["Error"][0]["code"] == "2500", answers
    # after the batch the objects are there as usual
    found = await qbo.query("select * from Customer where DisplayName = 'Batch Co'")
    assert found["QueryResponse"]["Customer"][0]["Id"] == customer_id


async def test_cdc_refuses_a_changed_since_older_than_30_days(qbo: Qbo) -> None:
    response = await qbo.client.get(
        qbo.url("cdc"), params={"entities": "Customer", "changedSince": "2000-01-01T00:00:00Z"}
    )
    assert response.status_code == 400
    detail = response.json()["Fault"]["Error"][0]["Detail"]
    assert "older than fixed days is not supported" in detail


async def test_a_401_carries_www_authenticate(qbo: Qbo) -> None:
    response = await qbo.client.get(
        qbo.url("preferences"), headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="Intuit", error="invalid_token"'


async def test_service_date_and_ship_date_sent_as_date_times_are_dates(qbo: Qbo) -> None:
    customer = await qbo.customer()
    item = await qbo.service_item()
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "ShipDate": "2025-05-28T00:00:00",
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 1,
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item["Id"]},
                        "ServiceDate": "2025-05-27T00:00:00-07:00",
                    },
                }
            ],
        },
    )
    assert invoice["ShipDate"] == "2025-05-28"
    assert invoice["Line"][0]["SalesItemLineDetail"]["ServiceDate"] == "2025-05-27"
