"""The engine's per-document statements are planned once per connection, not on every call
(issue 13, P4).

PostgreSQL serves a prepared statement with a generic plan (planned once) after five custom
ones only when the generic plan does not look dearer than they did. The references' read was
built on `unnest` of arrays, whose row estimate a custom plan takes from the arrays' lengths: its
custom plans always looked cheaper and it was planned on every call (0.5 ms of its 0.7 ms of
PostgreSQL a document). Its keys now come as one jsonb and each row is looked up by key, so the
generic plan is the custom one. What it reads must stay what it read: snapshots, ledger rows,
keys never sent, and the write intent noted only when the row has no QBO object and no intent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, WriteIntent
from rentsync.store.documents import DocumentRepository
from rentsync.store.ledger import LedgerRepository

CALLS = 12
"""More than the five custom plans PostgreSQL makes before it weighs the generic one."""


async def _plans(pool: AsyncConnectionPool[Any], fragment: str) -> list[tuple[int, int]]:
    """(generic, custom) plans of the connection's prepared statements whose text holds
    `fragment` (the pool has one connection, so it is the one the calls ran on)."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE strpos(statement, %s) > 0",
            (fragment,),
        )
        return [(int(g), int(c)) for g, c in await cursor.fetchall()]


async def _one_connection(database_url: str) -> AsyncConnectionPool[Any]:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url, min_size=1, max_size=1, open=False, kwargs={"autocommit": True}
    )
    await pool.open(wait=True)
    return pool


def _company(database_url: str, name: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        [(company,)] = conn.execute(
            "INSERT INTO companies (name) VALUES (%s) RETURNING id", (name,)
        ).fetchall()
    return int(company)


async def test_p4_the_references_read_is_planned_once_and_reads_what_is_stored(
    database_url: str,
) -> None:
    company = _company(database_url, "Planned Once Rentals")
    pool = await _one_connection(database_url)
    try:
        documents = DocumentRepository(pool)
        ledger = LedgerRepository(pool)
        customer = DocumentKey(company, DocumentType.CUSTOMER, "C-1")
        product = DocumentKey(company, DocumentType.PRODUCT, "P-1")
        never_sent = DocumentKey(company, DocumentType.PRODUCT, "P-never")
        await documents.put(customer, {"name": "Ann"}, version=1)
        await documents.put(product, {"name": "Tent"}, version=1)
        with psycopg.connect(database_url, autocommit=True) as conn:
            # The customer is in QBO; the product's ledger row is gone (a name-list record
            # gets its row when an order first needs it).
            conn.execute(
                "UPDATE sync_records SET state = 'synced', qbo_id = '7', synced_hash = 'h' "
                "WHERE doc_type = 'customer'"
            )
            conn.execute("DELETE FROM sync_records WHERE doc_type = 'product'")

        for n in range(CALLS):
            # The keys in another order and number each time: one statement serves them all.
            keys = [customer, product, never_sent][: 1 + n % 3]
            found = await ledger.references(list(reversed(keys)))
            assert not found.noted
            assert set(found.snapshots) == {customer, product} & set(keys)
            assert set(found.records) == {customer}
            assert found.records[customer].qbo_id == "7"
            assert found.snapshots[customer].body == {"name": "Ann"}
        [(generic, custom)] = await _plans(pool, "jsonb_to_recordset")
        assert custom == 5 and generic == CALLS - 5, (generic, custom)
        assert await ledger.references([]) == type(found)()
    finally:
        await pool.close()


async def test_p4_b1_the_intent_noted_by_the_references_read_on_its_generic_plan(
    database_url: str,
) -> None:
    """Noted only over a row with no QBO object and no intent, on custom and generic plans
    alike (calls 1-5 and 6-12); a row gone, or already holding a QBO object, is left alone."""
    company = _company(database_url, "Noted Once Rentals")
    pool = await _one_connection(database_url)
    try:
        documents = DocumentRepository(pool)
        ledger = LedgerRepository(pool)
        customer = DocumentKey(company, DocumentType.CUSTOMER, "C-1")
        await documents.put(customer, {"name": "Ann"}, version=1)
        for n in range(CALLS):
            order = DocumentKey(company, DocumentType.ORDER, f"O-{n}")
            await documents.put(order, {"kind": "order"}, version=1)
            if n % 4 == 1:  # its invoice is in QBO already (an earlier run)
                with psycopg.connect(database_url, autocommit=True) as conn:
                    conn.execute(
                        "UPDATE sync_records SET qbo_id = '9' WHERE source_id = %s",
                        (order.source_id,),
                    )
            intent = WriteIntent(entity="Invoice", field="DocNumber", value=f"{1000 + n}")
            found = await ledger.references([customer], noting=(order, intent))
            assert set(found.snapshots) == {customer}
            again = await ledger.references([], noting=(order, intent))
            record = await ledger.get(order)
            assert record is not None
            if n % 4 == 1:
                assert not found.noted and record.write_intent is None
            else:
                assert found.noted and record.write_intent == intent.as_json()
            assert not again.noted  # an intent already there is never replaced
        [(generic, custom)] = await _plans(pool, "WITH noted AS")
        assert custom == 5 and generic == 2 * CALLS - 5, (generic, custom)
    finally:
        await pool.close()


async def test_p4_a_job_s_first_read_and_its_outcome_are_planned_once(
    database_url: str,
) -> None:
    company = _company(database_url, "Outcome Once Rentals")
    pool = await _one_connection(database_url)
    try:
        documents = DocumentRepository(pool)
        ledger = LedgerRepository(pool)
        for n in range(CALLS):
            order = DocumentKey(company, DocumentType.ORDER, f"O-{n}")
            await documents.put(order, {"kind": "order"}, version=1)
            document, record, _ = await ledger.get_with_document(order)
            assert document is not None and record is not None
            assert record.state == "pending"
            await ledger.record(
                order,
                state="skipped",
                revision=1,
                started_at=datetime.now(UTC),
                outcome="skipped",
                skip_reason="not_connected",
            )
            _, record, _ = await ledger.get_with_document(order)
            assert record is not None and record.state == "skipped"
            assert record.skip_reason == "not_connected"
            [attempt] = await ledger.attempts(order)
            assert attempt.outcome == "skipped"
        [(first_generic, first_custom)] = await _plans(pool, "company_version")
        assert first_custom == 5 and first_generic == 2 * CALLS - 5
        [(generic, custom)] = await _plans(pool, "INSERT INTO sync_attempts")
        assert custom == 5 and generic == CALLS - 5
    finally:
        await pool.close()
