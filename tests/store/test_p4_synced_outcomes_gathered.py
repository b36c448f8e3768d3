"""Outcomes of documents synced at the same moment share one statement (issue 13, P4).

A bulk sync's batch answers up to 30 creates at once, and each job then records its document
synced. `LedgerRepository.record` gathers those (`_SyncedOutcomes`) into one statement, which
must leave what `_record_one` leaves for each: the outcome and its history line (with the
wait it ended), the job ended when nothing waits on its lock, the documents waiting on its lock
scheduled after it and its job then left to the queue (a worker killed in between runs it
again, B1), and a document without a ledger row recorded the usual way.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, ClassVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, QueueJob
from rentsync.store.documents import DocumentRepository
from rentsync.store.ledger import LedgerRepository

PAYMENTS = (DocumentType.PAYMENT, DocumentType.REFUND, DocumentType.PAYMENT_VOID)


class _Counting(psycopg.AsyncConnection[Any]):
    statements: ClassVar[list[str]] = []

    async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        type(self).statements.append(str(query))
        return await super().execute(query, *args, **kwargs)


def _qbo(n: int) -> dict[str, Any]:
    return {"qbo_entity": "Invoice", "qbo_id": str(100 + n), "sync_token": "0", "synced_hash": "h"}


async def test_p4_b1_outcomes_recorded_together_are_what_each_alone_records(
    database_url: str,
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        company = int(
            conn.execute(
                "INSERT INTO companies (name) VALUES ('Gathered') RETURNING id"
            ).fetchall()[0][0]
        )
        worker = int(conn.execute("SELECT procrastinate_register_worker_v1()").fetchall()[0][0])
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=4,
        open=False,
        kwargs={"autocommit": True},
        connection_class=_Counting,
    )
    await pool.open(wait=True)
    try:
        documents = DocumentRepository(pool)
        orders = [DocumentKey(company, DocumentType.ORDER, f"O-{n}") for n in range(6)]
        waits, unrecorded = orders[2], orders[4]
        payment = DocumentKey(company, DocumentType.PAYMENT, "PAY-1")
        await documents.put(
            payment, {"order_id": "O-2", "amount": "1.00"}, version=None, job_lock=waits.lock()
        )
        with psycopg.connect(database_url, autocommit=True) as conn:
            # Its job ran and found no invoice in QBO.
            conn.execute("UPDATE sync_records SET state = 'skipped'")
            conn.execute("UPDATE procrastinate_jobs SET status = 'succeeded'")
        for key in orders:
            await documents.put(key, {"kind": "order"}, version=None)
        with psycopg.connect(database_url, autocommit=True) as conn:
            jobs = {}
            for _ in orders:  # each job taken by a worker, as while its task runs
                [row] = conn.execute(
                    "SELECT id, args->>'source_id' FROM procrastinate_fetch_job_v2("
                    "ARRAY['sync'], %s)",
                    (worker,),
                ).fetchall()
                jobs[str(row[1])] = int(row[0])
            conn.execute(
                "DELETE FROM sync_records WHERE doc_type = 'order' AND source_id = %s",
                (unrecorded.source_id,),
            )
        ledger = LedgerRepository(pool)
        endings = {key: QueueJob(id=jobs[key.source_id]) for key in orders}
        started = datetime.now(UTC)
        _Counting.statements.clear()
        await asyncio.gather(
            *(
                ledger.record(
                    key,
                    state="synced",
                    revision=1,
                    started_at=started,
                    outcome="synced",
                    qbo=_qbo(n),
                    release=(key.lock(), PAYMENTS),
                    ending=endings[key],
                )
                for n, key in enumerate(orders)
            )
        )
        gathered = [s for s in _Counting.statements if "WITH ORDINALITY AS k(" in s]
        assert len(gathered) == 1  # the six in one statement (the unrecorded one then alone)
        records = await ledger.get_many([*orders, payment])
    finally:
        await pool.close()

    for n, key in enumerate(orders):
        record = records[key]
        assert (record.state, record.qbo_id, record.synced_hash) == ("synced", str(100 + n), "h")
        assert record.write_intent is None and record.error is None and record.attempts == 0
    assert records[payment].state == "pending"  # released: scheduled again after its invoice
    with psycopg.connect(database_url) as conn:
        status = dict(
            conn.execute(
                "SELECT args->>'source_id', status::text FROM procrastinate_jobs "
                "WHERE id = ANY(%s)",
                (list(jobs.values()),),
            ).fetchall()
        )
        history = conn.execute(
            "SELECT source_id, outcome, revision, state, pending_since IS NOT NULL, detail "
            "FROM sync_attempts WHERE doc_type = 'order' ORDER BY source_id"
        ).fetchall()
        released = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' "
            "AND args->>'source_id' = 'PAY-1' AND lock = %s",
            (waits.lock(),),
        ).fetchone()
    for key in orders:
        # Ended by the statement unless a payment waited (scheduled first) or the row was made
        # the usual way: the queue ends those after the task.
        ended = key not in (waits, unrecorded)
        assert endings[key].ended is ended
        assert status[key.source_id] == ("succeeded" if ended else "doing")
    assert released == (1,)
    assert [row[0] for row in history] == [key.source_id for key in orders]
    for n, (_, outcome, revision, state, waited, detail) in enumerate(history):
        assert (outcome, revision, state) == ("synced", 1, "synced")
        assert detail == {"skip_reason": None, "error": None, "qbo": _qbo(n)}
        # The wait it ended, from the row before the update (none for the row made anew).
        assert waited is (orders[n] != unrecorded)


async def test_p4_one_document_recorded_twice_at_once_is_recorded_twice(
    database_url: str,
) -> None:
    """Never two jobs of one document at once (its lock); were it so, both outcomes are
    written, one by one, as before."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        company = int(
            conn.execute("INSERT INTO companies (name) VALUES ('Twice') RETURNING id").fetchall()[
                0
            ][0]
        )
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    )
    await pool.open(wait=True)
    try:
        key = DocumentKey(company, DocumentType.ORDER, "O-1")
        await DocumentRepository(pool).put(key, {"kind": "order"}, version=None)
        ledger = LedgerRepository(pool)
        await asyncio.gather(
            *(
                ledger.record(
                    key,
                    state="synced",
                    revision=1,
                    started_at=datetime.now(UTC),
                    outcome=f"synced {n}",
                    qbo=_qbo(1),
                    release=(key.lock(), PAYMENTS),
                )
                for n in range(2)
            )
        )
        attempts = await ledger.attempts(key)
    finally:
        await pool.close()
    assert sorted(a.outcome for a in attempts) == ["synced 0", "synced 1"]
