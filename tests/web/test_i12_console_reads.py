"""Issue 12 (console data screens), the read side on a real PostgreSQL: dashboard figures,
the documents list across kinds, the QuickBooks log filters; every read company-scoped."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from rentsync import bootstrap
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.qbo import LogEntry
from rentsync.store.listing import DocumentFilter, cursor_of
from rentsync.sync.kinds import KINDS, kind_for

LISTINGS = {kind.doc_type: kind.listing for kind in KINDS}


def _order(number: str, customer_id: str, day: str, total: str = "100.00") -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "invoice_number": number,
        "invoice_date": day,
        "totals": {"subtotal": total, "discount": "0.00", "tax": "0.00", "total": total},
    }


async def _company(services: bootstrap.Services, name: str) -> int:
    created, _ = await services.companies.create(name, permissions=frozenset())
    return created.id


async def _put(
    services: bootstrap.Services, company: int, doc_type: DocumentType, source_id: str, body: Any
) -> DocumentKey:
    key = DocumentKey(company, doc_type, source_id)
    every_change = kind_for(doc_type).syncs_on_every_change
    await services.documents.put(key, body, version=None, every_change=every_change)
    return key


async def _outcome(
    services: bootstrap.Services, key: DocumentKey, state: str, **extra: Any
) -> None:
    await services.ledger.record(
        key, state=state, revision=1, started_at=datetime.now(UTC), outcome=state, **extra
    )


FAILURE_6140 = {
    "code": "6140",
    "message": "Duplicate Document Number Error",
    "detail": "",
    "remedy": "Use another invoice number",
    "category": "DuplicateDocNumber",
    "element": "",
    "intuit_tid": "tid-1",
}


async def _two_companies(services: bootstrap.Services) -> tuple[int, int]:
    ours = await _company(services, "Ours")
    theirs = await _company(services, "Theirs")
    await _put(services, ours, DocumentType.CUSTOMER, "C1", {"name": "Maple Street Events"})
    await _put(services, ours, DocumentType.CUSTOMER, "C2", {"name": "Blue Fern Catering"})
    synced = await _put(
        services, ours, DocumentType.ORDER, "R1", _order("1001", "C1", "2026-11-20")
    )
    failed = await _put(
        services, ours, DocumentType.ORDER, "R2", _order("1002", "C2", "2026-11-22")
    )
    await _put(services, ours, DocumentType.ORDER, "R3", _order("1003", "C1", "2026-11-25"))
    await _put(
        services,
        ours,
        DocumentType.PAYMENT,
        "P1",
        {"order_id": "R1", "amount": "50.00", "date": "2026-11-21", "reference_number": "AUTH-9"},
    )
    await _outcome(services, synced, "synced", qbo={"qbo_entity": "Invoice", "qbo_id": "17"})
    await _outcome(services, failed, "failed", error=FAILURE_6140)
    # The other company has a document with the same number and customer name.
    await _put(services, theirs, DocumentType.CUSTOMER, "C1", {"name": "Maple Street Events"})
    await _put(services, theirs, DocumentType.ORDER, "R1", _order("1001", "C1", "2026-11-20"))
    return ours, theirs


async def test_i12_counts_by_state_per_kind_are_company_scoped(
    services: bootstrap.Services,
) -> None:
    ours, theirs = await _two_companies(services)
    counts = {(c.doc_type, c.state): c.count for c in await services.overview.counts(ours)}
    assert counts == {
        ("customer", "not_synced"): 2,
        ("order", "synced"): 1,
        ("order", "failed"): 1,
        ("order", "pending"): 1,
        ("payment", "pending"): 1,
    }
    theirs_counts = await services.overview.counts(theirs)
    assert sum(c.count for c in theirs_counts) == 2


async def test_i12_documents_list_filters_search_and_scope(services: bootstrap.Services) -> None:
    ours, theirs = await _two_companies(services)

    async def ids(company: int = ours, **filters: Any) -> list[str]:
        rows = await services.document_list.page(company, LISTINGS, DocumentFilter(**filters))
        return sorted(f"{r.doc_type}:{r.source_id}" for r in rows)

    assert len(await ids()) == 6
    assert await ids(theirs) == ["customer:C1", "order:R1"]
    assert await ids(doc_types=[DocumentType.ORDER]) == ["order:R1", "order:R2", "order:R3"]
    assert await ids(states=["failed"]) == ["order:R2"]
    assert await ids(states=["not_synced"]) == ["customer:C1", "customer:C2"]
    assert await ids(error_code="6140") == ["order:R2"]
    # The document's own date; kinds without one drop out when the filter is set.
    assert await ids(date_from=date(2026, 11, 21), date_to=date(2026, 11, 22)) == [
        "order:R2",
        "payment:P1",
    ]
    # Number, the customer's name (through the order for a payment), the record's own name.
    assert await ids(search="1002") == ["order:R2"]
    assert await ids(search="maple") == ["customer:C1", "order:R1", "order:R3", "payment:P1"]
    assert await ids(search="AUTH-9") == ["payment:P1"]
    assert await ids(search="100%") == []  # LIKE wildcards are text
    assert await ids(theirs, search="1002") == []

    rows = await services.document_list.page(
        ours, LISTINGS, DocumentFilter(doc_types=[DocumentType.PAYMENT])
    )
    assert rows[0].party == "Maple Street Events"
    assert (rows[0].number, rows[0].amount, rows[0].doc_date) == ("AUTH-9", "50.00", "2026-11-21")
    failed = await services.document_list.one(ours, LISTINGS, DocumentType.ORDER, "R2")
    assert failed is not None
    assert (failed.error_code, failed.party, failed.number) == (
        "6140",
        "Blue Fern Catering",
        "1002",
    )
    synced = await services.document_list.one(ours, LISTINGS, DocumentType.ORDER, "R1")
    assert synced is not None and (synced.qbo_entity, synced.qbo_id) == ("Invoice", "17")
    assert await services.document_list.one(theirs, LISTINGS, DocumentType.ORDER, "R2") is None


async def test_i12_documents_list_pages_in_a_stable_order(services: bootstrap.Services) -> None:
    company = await _company(services, "Many")
    for i in range(25):
        await _put(services, company, DocumentType.CUSTOMER, f"C{i:02}", {"name": f"Name {i}"})
    seen: list[str] = []
    after = None
    while True:
        page = await services.document_list.page(
            company, LISTINGS, DocumentFilter(), limit=10, after=after
        )
        if not page:
            break
        seen += [r.source_id for r in page]
        after = cursor_of(page[-1])
    assert sorted(seen) == [f"C{i:02}" for i in range(25)]
    assert len(seen) == len(set(seen)) == 25


async def test_i12_hourly_outcomes_and_latency_from_the_history(
    services: bootstrap.Services,
) -> None:
    ours, theirs = await _two_companies(services)
    key = DocumentKey(ours, DocumentType.ORDER, "R3")
    # A retry keeps the change's waiting time; the final outcome measures from it.
    await _outcome(services, key, "pending", error={**FAILURE_6140, "code": "5010"})
    async with services.pool.connection() as conn:
        await conn.execute(
            "UPDATE sync_records SET pending_since = now() - interval '30 seconds' "
            "WHERE company_id = %s AND source_id = 'R3'",
            (ours,),
        )
    await _outcome(services, key, "synced")
    since = datetime.now(UTC) - timedelta(days=7)
    hours = await services.overview.hourly(ours, since=since)
    assert sum(h.synced for h in hours) == 2
    assert sum(h.failed for h in hours) == 1
    assert sum(h.skipped for h in hours) == 0
    latencies = [h.latency_p95_seconds for h in hours if h.latency_p95_seconds is not None]
    # R1 took about no time, R3 30 s: the 95th percentile interpolates between them.
    assert latencies and 25 < max(latencies) < 31
    async with services.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT state, pending_since IS NOT NULL FROM sync_attempts "
            "WHERE company_id = %s AND source_id = 'R3' ORDER BY id",
            (ours,),
        )
        assert await cursor.fetchall() == [("pending", True), ("synced", True)]
        cursor = await conn.execute(
            "SELECT pending_since FROM sync_records WHERE company_id = %s AND source_id = 'R3'",
            (ours,),
        )
        assert (await cursor.fetchone()) == (None,)
    assert await services.overview.hourly(theirs, since=since) == []


async def test_i12_queue_depth_counts_this_companys_jobs(services: bootstrap.Services) -> None:
    ours, theirs = await _two_companies(services)
    # Every PUT of a transaction deferred a job (customers wait until an order needs them).
    depth = await services.overview.queue_depth(ours)
    assert (depth.waiting, depth.running) == (4, 0)
    assert (await services.overview.queue_depth(theirs)).waiting == 1


async def test_i12_qbo_log_filters_by_entity_code_and_dates(services: bootstrap.Services) -> None:
    ours, theirs = await _two_companies(services)
    now = datetime.now(UTC)

    def entry(company: int, path: str, status: int, body: str, at: datetime) -> LogEntry:
        return LogEntry(
            company_id=company,
            realm_id="r",
            at=at,
            method="POST",
            path=path,
            status=status,
            duration_ms=5.0,
            intuit_tid="t",
            requestid=None,
            request_body="{}",
            response_body=body,
        )

    fault = '{"Fault": {"Error": [{"Message": "Duplicate", "code": "6140"}]}}'
    for item in (
        entry(ours, "/v3/company/r/invoice?minorversion=75", 400, fault, now),
        entry(ours, "/v3/company/r/invoice/17?minorversion=75", 200, '{"Invoice": {}}', now),
        entry(
            ours,
            "/v3/company/r/query?minorversion=75&query=select * from Invoice where Id = '1'",
            200,
            "{}",
            now - timedelta(days=2),
        ),
        entry(ours, "/v3/company/r/customer?minorversion=75", 200, '{"Customer": {}}', now),
        entry(theirs, "/v3/company/r/invoice?minorversion=75", 400, fault, now),
    ):
        await services.qbo_log.record(item)

    async def paths(company: int = ours, **filters: Any) -> list[str]:
        rows = await services.qbo_log.page(company, **filters)
        return sorted(r.path.split("?")[0].removeprefix("/v3/company/r") for r in rows)

    assert await paths(entity="Invoice") == ["/invoice", "/invoice/17", "/query"]
    assert await paths(entity="invoice", code="6140") == ["/invoice"]
    assert await paths(code="6140") == ["/invoice"]
    assert await paths(code="61.0") == []  # a code is text, not a pattern
    assert await paths(entity="Customer") == ["/customer"]
    assert await paths(failed_only=True) == ["/invoice"]
    assert await paths(entity="Invoice", succeeded_only=True) == ["/invoice/17", "/query"]
    assert await paths(entity="Invoice", until=now - timedelta(days=1)) == ["/query"]
    assert await paths(theirs, entity="Invoice") == ["/invoice"]


async def test_i12_system_messages_by_code_include_skips_for_that_reason(
    services: bootstrap.Services,
) -> None:
    ours, theirs = await _two_companies(services)
    skipped = DocumentKey(ours, DocumentType.ORDER, "R3")
    await _outcome(services, skipped, "skipped", skip_reason="no_quickbooks")
    found = await services.ledger.search(ours, states=["failed", "skipped"], error_code="6140")
    assert [r.source_id for r in found] == ["R2"]
    found = await services.ledger.search(
        ours, states=["failed", "skipped"], error_code="no_quickbooks"
    )
    assert [r.source_id for r in found] == ["R3"]
    assert await services.ledger.search(theirs, error_code="no_quickbooks") == []
