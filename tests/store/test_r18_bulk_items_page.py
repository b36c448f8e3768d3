"""A bulk sync's items, as the API and the console list them (R18): a page in the run's order
with each item's current revision and outcome, read page first (issue 13): the documents and
the ledger rows read are the page's, however long the run."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from rentsync import bootstrap
from rentsync.domain.bulk import Planned, Selection
from rentsync.store.bulk_syncs import ITEMS_PAGE

RUN = 4000


async def _run_of_items(services: bootstrap.Services) -> int:
    company, _ = await services.companies.create("Paged Rentals")
    bulk = await services.bulk_syncs.repository.create(
        company.id, Selection(), start_when_previewed=False
    )
    async with services.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO documents (company_id, doc_type, source_id, body, revision) "
            "SELECT %s, 'order', 'O-' || g, '{}'::jsonb, 1 + g %% 2 FROM generate_series(1, %s) g",
            (company.id, RUN),
        )
        # Every third item has a ledger row (failed, with a code); the others none yet.
        await conn.execute(
            "INSERT INTO sync_records (company_id, doc_type, source_id, state, trigger, error) "
            "SELECT %s, 'order', 'O-' || g, 'failed', 'bulk_sync', %s "
            "FROM generate_series(3, %s, 3) g",
            (company.id, Jsonb({"code": "6000"}), RUN),
        )
        await conn.execute(
            "INSERT INTO bulk_sync_items (bulk_sync_id, seq, company_id, doc_type, source_id, "
            "revision, planned, dispatched_at) SELECT %s, g, %s, 'order', 'O-' || g, 1, "
            "CASE WHEN g %% 10 = 0 THEN 'skip' ELSE 'create' END, "
            "CASE WHEN g <= 900 THEN now() END FROM generate_series(1, %s) g",
            (bulk.id, company.id, RUN),
        )
        await conn.execute("ANALYZE documents, sync_records, bulk_sync_items")
    return bulk.id


def _scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan] if plan.get("Relation Name") in {"documents", "sync_records"} else []
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def test_r18_a_page_of_a_run_s_items_carries_each_item_s_revision_and_outcome(
    services: bootstrap.Services,
) -> None:
    bulk_id = await _run_of_items(services)
    repository = services.bulk_syncs.repository

    page = await repository.items(bulk_id, after=895, limit=10)
    assert [row.seq for row in page] == list(range(896, 906))
    by_seq = {row.seq: row for row in page}
    assert by_seq[896].current_revision == 1 and by_seq[897].current_revision == 2
    assert (by_seq[897].outcome, by_seq[897].error_code) == ("failed", "6000")
    assert (by_seq[898].outcome, by_seq[898].error_code) == ("pending", None)  # no ledger row
    assert by_seq[900].outcome == "skipped"
    assert by_seq[901].outcome == "waiting"

    skips = await repository.items(bulk_id, after=0, limit=5, planned=Planned.SKIP)
    assert [row.seq for row in skips] == [10, 20, 30, 40, 50]
    assert await repository.items(bulk_id, after=RUN, limit=5) == []


async def test_r18_a_page_of_items_reads_only_its_own_documents_and_ledger_rows(
    services: bootstrap.Services,
) -> None:
    """Joined before the LIMIT, PostgreSQL merged the rest of the run with both tables for
    every page (1,446 buffers for a page of 500 of a run of 4,000, issue 13)."""
    bulk_id = await _run_of_items(services)
    async with services.pool.connection() as conn:
        for after, planned, limit in ((0, "skip", 100), (2000, None, 500), (3900, None, 100)):
            cursor = await conn.execute(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + ITEMS_PAGE,
                (bulk_id, after, planned, planned, limit),
            )
            row = await cursor.fetchone()
            assert row is not None
            scans = _scans(row[0][0]["Plan"])
            assert {scan["Relation Name"] for scan in scans} == {"documents", "sync_records"}
            for scan in scans:
                read = scan["Actual Rows"] * scan.get("Actual Loops", 1)
                assert read <= limit, (after, planned, scan["Relation Name"], read)
