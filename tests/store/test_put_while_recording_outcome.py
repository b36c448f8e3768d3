"""A PUT of an order while the worker records the outcome of its previous sync: both succeed.

Found by the B1 fault test (200 orders updated three times): `DocumentRepository.put` locked the
document row FOR UPDATE and then the ledger row, while `LedgerRepository.record` held the ledger
row and then needed the document row in KEY SHARE (the foreign key check of its history insert).
PostgreSQL broke the cycle by aborting one of them: the PUT answered 500, or the worker lost the
record of an invoice it had just written in QuickBooks.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg

from rentsync import bootstrap
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey


async def _waiting_on_a_lock(admin: psycopg.AsyncConnection[object], count: int) -> None:
    for _ in range(200):
        cursor = await admin.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = await cursor.fetchone()
        if row is not None and row[0] >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} sessions waiting on a lock")


async def test_a_put_while_the_worker_records_an_outcome_does_not_deadlock(
    services: bootstrap.Services, database_url: str
) -> None:
    company, _ = await services.companies.create("Lock Order Rentals")
    key = DocumentKey(company.id, DocumentType.ORDER, "O-1")
    await services.documents.put(key, {"v": 1}, version=1)

    async with (
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin,
        await psycopg.AsyncConnection.connect(database_url) as gate,
    ):
        # Hold the worker between its ledger update and its history insert.
        await gate.execute("LOCK TABLE sync_attempts IN SHARE MODE")
        recording = asyncio.create_task(
            services.ledger.record(
                key,
                state="synced",
                revision=1,
                started_at=datetime.now(UTC),
                outcome="synced",
                qbo={"qbo_entity": "Invoice", "qbo_id": "42", "sync_token": "0"},
            )
        )
        await _waiting_on_a_lock(admin, 1)
        # The rental system PUTs the next version: it waits for the ledger row.
        putting = asyncio.create_task(services.documents.put(key, {"v": 2}, version=2))
        await _waiting_on_a_lock(admin, 2)
        await gate.rollback()  # the worker goes on: its history insert checks the document row
        stored, _ = await asyncio.wait_for(asyncio.gather(putting, recording), timeout=10)

    assert stored.stored and stored.revision == 2
    record = await services.ledger.get(key)
    assert record is not None
    assert record.qbo_id == "42"
    assert record.state == "pending"  # the new version's job is scheduled
    assert [a.outcome for a in await services.ledger.attempts(key)] == ["synced"]
