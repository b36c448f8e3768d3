"""The query language subset and its response shapes."""

from __future__ import annotations

from tests.emulator.conftest import Qbo


async def test_empty_query_result_is_an_empty_query_response(qbo: Qbo) -> None:
    body = await qbo.query("select * from Invoice where DocNumber = 'nope'")
    assert body["QueryResponse"] == {}
    assert "time" in body


async def test_query_filters_orders_and_pages(qbo: Qbo) -> None:
    for name in ("Charlie", "alpha", "Bravo", "Delta"):
        await qbo.customer(name)
    body = await qbo.query(
        "SELECT * FROM Customer WHERE DisplayName IN ('alpha','Bravo','Charlie') "
        "ORDERBY DisplayName DESC STARTPOSITION 2 MAXRESULTS 1"
    )
    response = body["QueryResponse"]
    assert [c["DisplayName"] for c in response["Customer"]] == ["Bravo"]
    assert response["startPosition"] == 2 and response["maxResults"] == 1


async def test_query_like_and_backslash_escaped_quote(qbo: Qbo) -> None:
    await qbo.customer("O'Keefe Events")
    await qbo.customer("Okay Tents")
    body = await qbo.query("select * from Customer where DisplayName = 'O\\'Keefe Events'")
    assert [c["DisplayName"] for c in body["QueryResponse"]["Customer"]] == ["O'Keefe Events"]
    like = await qbo.query("select * from Customer where DisplayName like 'O%Tents'")
    assert [c["DisplayName"] for c in like["QueryResponse"]["Customer"]] == ["Okay Tents"]


async def test_count_star_returns_total_count(qbo: Qbo) -> None:
    await qbo.customer("One")
    await qbo.customer("Two")
    body = await qbo.query("select count(*) from Customer")
    assert body["QueryResponse"] == {"totalCount": 2}


async def test_maxresults_over_1000_is_4001(qbo: Qbo) -> None:
    response = await qbo.client.get(
        qbo.url("query"), params={"query": "select * from Customer maxresults 1500"}
    )
    assert response.status_code == 400
    error = response.json()["Fault"]["Error"][0]
    assert error["code"] == "4001" and "Max allowed value is 1000" in error["Detail"]


async def test_unparseable_query_is_4000(qbo: Qbo) -> None:
    response = await qbo.client.get(
        qbo.url("query"), params={"query": "select * from Customer where DisplayName = 'O'Keefe'"}
    )
    assert response.json()["Fault"]["Error"][0]["code"] == "4000"


async def test_projection_returns_sparse_objects(qbo: Qbo) -> None:
    await qbo.customer("Projected")
    body = await qbo.query("select Id, DisplayName from Customer")
    customer = body["QueryResponse"]["Customer"][0]
    assert customer["sparse"] is True and set(customer) == {"Id", "DisplayName", "sparse"}


async def test_query_by_post_with_application_text_and_comparisons(qbo: Qbo) -> None:
    await qbo.service_item("Cheap")
    response = await qbo.client.post(
        qbo.url("query"),
        content=b"select * from Item where Id >= '1' and Type = 'Service'",
        headers={"Content-Type": "application/text"},
    )
    assert [i["Name"] for i in response.json()["QueryResponse"]["Item"]] == ["Cheap"]


async def test_metadata_time_comparison(qbo: Qbo) -> None:
    await qbo.customer("Timed")
    body = await qbo.query(
        "select * from Customer where MetaData.LastUpdatedTime > '2000-01-01T00:00:00-0700'"
    )
    assert len(body["QueryResponse"]["Customer"]) == 1


async def test_tax_code_query_lists_pseudo_codes_and_rates(qbo: Qbo) -> None:
    body = await qbo.query("select * from TaxCode")
    names = [c["Name"] for c in body["QueryResponse"]["TaxCode"]]
    assert {"TAX", "NON", "CustomSalesTax", "Local 8%"} <= set(names)
    rates = await qbo.query("select * from TaxRate where RateValue = 6")
    assert [r["Name"] for r in rates["QueryResponse"]["TaxRate"]] == ["State"]


async def _query_error(qbo: Qbo, text: str) -> dict[str, str]:
    response = await qbo.client.get(qbo.url("query"), params={"query": text})
    assert response.status_code == 400, response.text
    fault = response.json()["Fault"]
    assert fault["type"] == "ValidationFault"
    error: dict[str, str] = fault["Error"][0]
    return error


async def test_where_on_a_property_the_entity_lacks_is_4001_not_an_empty_answer(qbo: Qbo) -> None:
    await qbo.customer("Acme")
    error = await _query_error(qbo, "select * from Customer where Nickname = 'Acme'")
    assert error["code"] == "4001" and error["Message"] == "Invalid query"
    assert error["Detail"] == (
        "QueryValidationError: Property Nickname not found for Entity Customer"
    )
    error = await _query_error(qbo, "select * from PurchaseOrder where CustomerRef = '1'")
    assert error["Detail"].endswith("Property CustomerRef not found for Entity PurchaseOrder")


async def test_where_on_a_non_filterable_property_is_4001(qbo: Qbo) -> None:
    await qbo.service_item("Tent")
    for text, name in (
        ("select * from Item where UnitPrice >= 0", "UnitPrice"),
        ("select * from Invoice where PrivateNote = 'x'", "PrivateNote"),
        ("select count(*) from Customer where Notes = 'x'", "Notes"),
    ):
        error = await _query_error(qbo, text)
        assert error["code"] == "4001"
        assert error["Detail"] == f"QueryValidationError: property '{name}' is not queryable"


async def test_unknown_property_in_select_list_or_orderby_is_4001(qbo: Qbo) -> None:
    error = await _query_error(qbo, "select Id, Bogus from Customer")
    assert error["Detail"].endswith("Property Bogus not found for Entity Customer")
    error = await _query_error(qbo, "select * from Customer orderby Bogus")
    assert error["Detail"].endswith("Property Bogus not found for Entity Customer")


async def test_filterable_properties_still_answer(qbo: Qbo) -> None:
    customer = await qbo.customer("Acme")
    for text in (
        f"select * from Invoice where CustomerRef = '{customer['Id']}' and TxnDate > '2020-01-01'",
        f"select * from Payment where CustomerRef = '{customer['Id']}'",
        f"select * from CreditMemo where CustomerRef = '{customer['Id']}' orderby TxnDate",
        "select * from Item where Name = 'x' and Active = true and Type = 'Service'",
        "select * from Customer where MetaData.LastUpdatedTime > '2000-01-01T00:00:00-07:00'",
    ):
        assert "Fault" not in await qbo.query(text)


async def test_select_all_tax_agencies_lists_the_seeded_agency(qbo: Qbo) -> None:
    body = await qbo.query("select * from TaxAgency")
    agencies = body["QueryResponse"]["TaxAgency"]
    assert [a["DisplayName"] for a in agencies] == ["Board of Equalization"]
    assert agencies[0]["TaxTrackedOnSales"] is True and agencies[0]["Id"].isdigit()
    count = await qbo.query("select count(*) from TaxAgency")
    assert count["QueryResponse"] == {"totalCount": 1}
