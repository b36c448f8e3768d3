"""Query items of a batch request (reference §6): each answered as the same query sent alone
would be (its QueryResponse with startPosition and maxResults, `{}` for no match), paged by
STARTPOSITION and MAXRESULTS, and a bad query is a Fault of its own item, carrying its bId,
while the other items are answered."""

from __future__ import annotations

from typing import Any

from tests.emulator.conftest import Qbo


async def _batch(qbo: Qbo, *queries: str) -> dict[str, Any]:
    body = {"BatchItemRequest": [{"bId": f"q{n}", "Query": q} for n, q in enumerate(queries)]}
    response = await qbo.post("batch", body)
    assert response.status_code == 200, response.text
    return {item["bId"]: item for item in response.json()["BatchItemResponse"]}


async def test_a_query_item_is_answered_as_the_query_alone(qbo: Qbo) -> None:
    for name in ("Alpha", "Beta", "O'Brien"):
        await qbo.customer(name)
    queries = [
        "select * from Customer where DisplayName = 'Beta'",
        "select * from Customer where DisplayName = 'O\\'Brien' MAXRESULTS 1000",
        "select * from Customer where DisplayName = 'Nobody'",
        "select count(*) from Customer",
    ]
    items = await _batch(qbo, *queries)
    for n, statement in enumerate(queries):
        alone = await qbo.query(statement)
        assert items[f"q{n}"]["QueryResponse"] == alone["QueryResponse"], statement
    assert items["q0"]["QueryResponse"]["Customer"][0]["DisplayName"] == "Beta"
    first = items["q0"]["QueryResponse"]
    assert (first["startPosition"], first["maxResults"]) == (1, 1)
    assert items["q2"]["QueryResponse"] == {}
    assert items["q3"]["QueryResponse"] == {"totalCount": 3}


async def test_query_items_page_by_startposition_and_maxresults(qbo: Qbo) -> None:
    for n in range(5):
        await qbo.customer(f"Paged {n}")
    where = "select * from Customer where DisplayName like 'Paged%' ORDERBY DisplayName"
    items = await _batch(
        qbo,
        f"{where} STARTPOSITION 1 MAXRESULTS 2",
        f"{where} STARTPOSITION 3 MAXRESULTS 2",
        f"{where} STARTPOSITION 5 MAXRESULTS 2",
        f"{where} STARTPOSITION 7 MAXRESULTS 2",
    )
    pages = [items[f"q{n}"]["QueryResponse"] for n in range(4)]
    names = [[c["DisplayName"] for c in page.get("Customer", [])] for page in pages]
    assert names == [["Paged 0", "Paged 1"], ["Paged 2", "Paged 3"], ["Paged 4"], []]
    assert [(p.get("startPosition"), p.get("maxResults")) for p in pages[:3]] == [
        (1, 2),
        (3, 2),
        (5, 1),
    ]


async def test_a_bad_query_item_is_a_fault_of_its_own(qbo: Qbo) -> None:
    await qbo.customer("Good")
    items = await _batch(
        qbo,
        "select * from Customer where NoSuchField = 'x'",
        "select * from Customer where DisplayName = 'Good'",
        "select from where",
        "select * from Customer MAXRESULTS 1001",
    )
    assert set(items) == {"q0", "q1", "q2", "q3"}
    for bid, code in (("q0", "4001"), ("q2", "4000"), ("q3", "4001")):
        fault = items[bid]["Fault"]
        assert fault["Error"][0]["code"] == code, items[bid]
        assert fault["type"]
        assert "QueryResponse" not in items[bid]
    assert items["q1"]["QueryResponse"]["Customer"][0]["DisplayName"] == "Good"
