"""R18 look-ups of bulk jobs: a name-list record found by name before it is created (B1) is looked
up in a merged single query (`DisplayName IN (...)`, at most 30 names and `LOOKUP_QUERY_CHARS`),
never as a batch item, so the minute's 40 batches carry creates; other queries (a document looked
up after an uncertain create, a paged read) travel as Query items of QBO batch requests. Each
caller gets what the same query sent alone gives: its own page or rows, or its own classified
error. Against the emulator, through the real client, with the fault plan."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from rentsync.qbo import errors
from rentsync.qbo.client import QboClient
from rentsync.qbo.requestid import request_id
from rentsync.settings import Settings
from rentsync.sync.batching import LOOKUP_QUERY_CHARS, BatchCoalescer, batch_request_id
from tests.qbo_fixtures import Harness, qbo_harness


async def _client(h: Harness) -> QboClient:
    await h.connect()
    client = await h.services.qbo.client_for(h.company_id)
    assert isinstance(client, QboClient)
    return client


async def _customers(client: QboClient, company_id: int, *names: str) -> None:
    for n, name in enumerate(names):
        await client.create(
            "Customer",
            {"DisplayName": name},
            requestid=request_id(company_id, f"customer:seed-{n}", 1, "create"),
        )


async def _log(h: Harness) -> list[Any]:
    return list(await h.services.qbo_log.page(h.company_id, limit=200))


def _sent_items(entry: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(entry.request_body)["BatchItemRequest"]
    return items


async def _settle(results: list[Any]) -> list[Any]:
    return list(await asyncio.gather(*results, return_exceptions=True))


async def test_r18_queries_travel_as_query_items_name_lookups_as_one_single_query(
    settings: Settings,
) -> None:
    async with qbo_harness(settings) as h:
        client = await _client(h)
        names = [f"Known {n}" for n in range(6)] + ["O'Hara & Sons"]
        await _customers(client, h.company_id, *names)
        coalescer = BatchCoalescer(linger_seconds=0.2)
        gateway = coalescer.gateway(client)
        wanted = [*names, "Nobody", "Nobody else"]
        *found, no_invoice, no_other = await _settle(
            [gateway.find_by("Customer", "DisplayName", n) for n in wanted]
            + [gateway.find_by_doc_number("Invoice", "404")]
            + [gateway.find_by_doc_number("Invoice", "405")]
        )
        assert no_invoice is None and no_other is None
        bad = gateway.find_by("Customer", "NoSuchField", "x")
        with pytest.raises(errors.QboError) as refused:
            await bad
        alone = [await client.find_by("Customer", "DisplayName", n) for n in wanted]
        assert found == alone, "each caller got what the query alone gives"
        assert [len(rows) for rows in found] == [1] * 7 + [0, 0]
        with pytest.raises(errors.QboError) as refused_alone:
            await client.find_by("Customer", "NoSuchField", "x")
        assert type(refused.value) is type(refused_alone.value)
        assert refused.value.code == refused_alone.value.code == "4001"
        # The two DocNumber queries in one batch of two Query items; the 9 names as one single
        # IN query beside it; the bad one went alone (it came after the batch was sent).
        assert coalescer.batches_sent == 1 and coalescer.queries_batched == 2
        log = await _log(h)
        batches = [e for e in log if "/batch" in e.path]
        assert len(batches) == 1
        assert batches[0].requestid is None, "a batch of lookups is never replayed"
        items = _sent_items(batches[0])
        assert len(items) == 2 and all("DocNumber = " in item["Query"] for item in items)
        merged = [e for e in log if "/query" in e.path and "DisplayName IN (" in e.path]
        assert len(merged) == 1 and all(f"'{n}'" in merged[0].path for n in ("Nobody", "Known 0"))


async def test_r18_name_lookups_meet_in_one_query_each_caller_its_own_rows(
    settings: Settings,
) -> None:
    """A company's new customers are looked up by name before they are created (B1): those that
    meet cost one single query of up to 30 names (never a batch item, though the minute's
    batches are all left), each caller answered with the rows the `=` query alone gives (QBO's
    `=` ignores case)."""
    async with qbo_harness(settings) as h:
        client = await _client(h)
        names = ["Known A", "Known B", "O'Hara & Sons"]
        await _customers(client, h.company_id, *names)
        coalescer = BatchCoalescer(linger_seconds=0.2)
        gateway = coalescer.gateway(client)
        wanted = [*names, "known a", *(f"New {n}" for n in range(32))]
        found = await _settle([gateway.find_by("Customer", "DisplayName", n) for n in wanted])
        alone = [await client.find_by("Customer", "DisplayName", n) for n in wanted]
        assert found == alone
        assert [len(rows) for rows in found[:4]] == [1, 1, 1, 1]
        log = await _log(h)
        merged = [e for e in log if "/query" in e.path and "DisplayName IN (" in e.path]
        assert len(merged) == 2, "36 names: two queries of at most 30"
        assert not [e for e in log if "/batch" in e.path]
        # Long names: a query sent alone travels in the URL, so it stays short.
        long_names = [f"Long {n} " + "x" * 80 for n in range(30)]
        found = await _settle([gateway.find_by("Customer", "DisplayName", n) for n in long_names])
        alone = [await client.find_by("Customer", "DisplayName", n) for n in long_names]
        assert found == alone
        queries = [
            e.path.split("query=", 1)[1]
            for e in await _log(h)
            if "/query" in e.path and "Long " in e.path and "%" not in e.path
        ]
        merged = [q for q in queries if " IN (" in q]
        assert len(merged) >= 2, "30 names of 90 characters: more than one query"
        assert all(len(q) <= LOOKUP_QUERY_CHARS for q in merged)


async def test_r18_a_bad_query_item_fails_only_its_own_caller(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        client = await _client(h)
        await _customers(client, h.company_id, "Good")
        coalescer = BatchCoalescer(linger_seconds=0.2)
        gateway = coalescer.gateway(client)
        good, bad, empty = await _settle(
            [
                gateway.find_by("Customer", "DisplayName", "Good"),
                gateway.find_by("Customer", "NoSuchField", "x"),
                gateway.find_by_doc_number("Invoice", "404"),
            ]
        )
        assert [row["DisplayName"] for row in good] == ["Good"]
        assert isinstance(bad, errors.PayloadRejected) and bad.code == "4001", bad
        assert empty is None
        assert coalescer.batches_sent == 1


async def test_r18_lookups_page_through_batches(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        client = await _client(h)
        await _customers(client, h.company_id, *(f"Paged {n}" for n in range(5)))
        coalescer = BatchCoalescer(linger_seconds=0.2)
        gateway = coalescer.gateway(client)
        where = "DisplayName LIKE 'Paged%'"
        pages = await _settle(
            [gateway.query_all("Customer", where, page_size=2, order_by="Id") for _ in range(3)]
        )
        expected = await client.query_all("Customer", where, page_size=2, order_by="Id")
        assert [len(rows) for rows in pages] == [5, 5, 5]
        assert all(rows == expected for rows in pages)
        # Three callers, three pages each (2 + 2 + 1): three batches of three Query items.
        assert (coalescer.batches_sent, coalescer.queries_batched) == (3, 9)


async def test_r18_a_query_and_a_create_in_one_batch_the_query_goes_first(
    settings: Settings,
) -> None:
    async with qbo_harness(settings) as h:
        client = await _client(h)
        coalescer = BatchCoalescer(linger_seconds=0.2)
        gateway = coalescer.gateway(client)
        requestid = request_id(h.company_id, "customer:mixed", 1, "create")
        made, looked = await _settle(
            [
                gateway.create("Customer", {"DisplayName": "Mixed"}, requestid=requestid),
                gateway.query(_MIXED),
            ]
        )
        assert made.data["DisplayName"] == "Mixed"
        assert looked.entities == [], "the query ran before the create, as if it went alone first"
        assert coalescer.batches_sent == 1
        [batch] = [e for e in await _log(h) if "/batch" in e.path]
        items = _sent_items(batch)
        assert "Query" in items[0] and items[1]["operation"] == "create"
        assert batch.requestid is None
        assert [c["Id"] for c in await gateway.find_by("Customer", "DisplayName", "Mixed")] == [
            made.id
        ]


_MIXED = "SELECT * FROM Customer WHERE DisplayName = 'Mixed'"


class _Recorder:
    """The client, noting in order each name-list look-up answered and each create sent (singly
    or as a batch item), with the requestids of the batches sent."""

    def __init__(self, client: QboClient) -> None:
        self._client = client
        self.realm_id = client.realm_id
        self.events: list[tuple[str, str]] = []
        self.batches: list[tuple[str | None, list[str]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def query(self, statement: str) -> Any:
        page = await self._client.query(statement)
        self.events.append(("answered", statement))
        return page

    async def create(self, entity: str, payload: Any, *, requestid: str) -> Any:
        self.events.append(("created", payload["DisplayName"]))
        return await self._client.create(entity, payload, requestid=requestid)

    async def batch(self, items: list[Any], *, requestid: str | None = None) -> Any:
        names = [item.payload["DisplayName"] for item in items if item.operation == "create"]
        self.events.extend(("created", name) for name in names)
        self.batches.append((requestid, names))
        return await self._client.batch(items, requestid=requestid)


async def test_r18_each_create_follows_its_own_lookup_and_creates_fill_the_batches(
    settings: Settings,
) -> None:
    """Many reference jobs at once, each looking its record up by name, then creating it when
    QBO has none (B1): every create is sent after the look-up naming it was answered; the
    look-ups go as single merged queries and the batches carry only creates, under the
    deterministic requestid of their items."""
    async with qbo_harness(settings) as h:
        client = await _client(h)
        await _customers(client, h.company_id, "Held 3", "Held 17")
        recorder = _Recorder(client)
        coalescer = BatchCoalescer(linger_seconds=0.3)
        gateway = coalescer.gateway(recorder)  # type: ignore[arg-type]
        ids = {
            f"Held {n}": request_id(h.company_id, f"customer:held-{n}", 1, "create")
            for n in range(40)
        }

        async def find_or_create(name: str) -> str:
            found = await gateway.find_by("Customer", "DisplayName", name)
            if found:
                return str(found[0]["Id"])
            made = await gateway.create("Customer", {"DisplayName": name}, requestid=ids[name])
            return made.id

        held = await asyncio.gather(*(find_or_create(name) for name in ids))
        assert len(set(held)) == 40
        answered: set[str] = set()
        for event, what in recorder.events:
            if event == "answered":
                answered.update(name for name in ids if f"'{name}'" in what)
            else:
                assert what in answered, f"{what} created before its look-up was answered"
        created = [what for event, what in recorder.events if event == "created"]
        assert sorted(created) == sorted(set(ids) - {"Held 3", "Held 17"}), "each once"
        assert recorder.batches, "the creates went in batches"
        for requestid, names in recorder.batches:
            assert requestid == batch_request_id([ids[name] for name in names])
        lookups = [e for e in await _log(h) if "/query" in e.path and "Held" in e.path]
        assert 0 < len(lookups) <= 3, "40 names: a few merged queries, not one each"
        assert all(len(e.path.split("query=", 1)[1]) <= LOOKUP_QUERY_CHARS for e in lookups)
        assert all(
            "Query" not in item
            for e in await _log(h)
            if "/batch" in e.path
            for item in _sent_items(e)
        )


@pytest.mark.parametrize("fault", ["drop", "error"])
async def test_r18_a_failed_mixed_batch_creates_nothing_twice_and_lookups_are_answered(
    settings: Settings, fault: str
) -> None:
    """The batch's answer is lost after QBO ran it (drop), or QBO fails it (5xx): every create
    is uncertain (never reported made or refused), every lookup is sent again and answered; a
    create's caller then looks up before creating again (the writer's rule) and finds what the
    lost batch made, so nothing is created twice."""
    async with qbo_harness(settings) as h:
        client = await _client(h)
        await _customers(client, h.company_id, "Existing")
        coalescer = BatchCoalescer(linger_seconds=0.2)
        gateway = coalescer.gateway(client)
        await h.admin("PUT", f"/admin/companies/{h.realm}/faults", {"next": [fault]})
        names = [f"Faulted {n}" for n in range(4)]
        ids = {n: request_id(h.company_id, f"customer:{n}", 1, "create") for n in names}
        outcomes = await _settle(
            [
                *(gateway.create("Customer", {"DisplayName": n}, requestid=ids[n]) for n in names),
                gateway.query("SELECT * FROM Customer WHERE DisplayName = 'Existing'"),
                gateway.query("SELECT * FROM Customer WHERE DisplayName = 'Nobody'"),
            ]
        )
        for outcome in outcomes[:4]:
            assert isinstance(outcome, errors.QboError), outcome
            assert outcome.outcome_uncertain, "a create of a failed batch is uncertain"
        assert [len(page.entities) for page in outcomes[4:]] == [1, 0]
        # Each create's retry looks up first, then creates only what is not there.
        for name in names:
            if not await gateway.find_by("Customer", "DisplayName", name):
                await gateway.create("Customer", {"DisplayName": name}, requestid=ids[name])
        held = [c["DisplayName"] for c in await client.query_all("Customer")]
        assert sorted(held) == sorted(["Existing", *names]), "each customer exactly once"
