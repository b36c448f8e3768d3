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

from rentsync import bootstrap
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey


async def test_a_put_while_the_worker_records_an_outcome_does_not_deadlock(
    services: bootstrap.Services,
) -> None:
    """PUTs of the next version racing the worker's record of the previous one, many times:
    every PUT is stored, every outcome recorded, and PostgreSQL never has to abort a deadlock
    (`psycopg.errors.DeadlockDetected` would fail the gather)."""
    company, _ = await services.companies.create("Lock Order Rentals")
    key = DocumentKey(company.id, DocumentType.ORDER, "O-1")
    await services.documents.put(key, {"v": 1}, version=1)
    rounds = 60
    for version in range(2, rounds + 2):
        stored, _ = await asyncio.wait_for(
            asyncio.gather(
                services.documents.put(key, {"v": version}, version=version),
                services.ledger.record(
                    key,
                    state="synced",
                    revision=version - 1,
                    started_at=datetime.now(UTC),
                    outcome="synced",
                    qbo={"qbo_entity": "Invoice", "qbo_id": "42", "sync_token": str(version)},
                ),
            ),
            timeout=10,
        )
        assert stored.stored and stored.revision == version
    record = await services.ledger.get(key)
    assert record is not None
    assert record.qbo_id == "42"
    assert len(await services.ledger.attempts(key, limit=500)) == rounds
