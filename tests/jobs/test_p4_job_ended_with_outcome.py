"""Issue 13, P4: an order's sync job is ended by the statement that records its outcome.

procrastinate ends a job with a round trip of its own after the task returns. The statement
recording an order's outcome now ends the job too when nothing is left to do after it
(`LedgerRepository.record(ending=...)`); the worker then does not end it again
(`jobs._Worker._persist_job_status`). With payments waiting for the invoice, the job is left
running until they are scheduled, so a worker killed in between runs it again and they are not
lost."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from procrastinate.manager import JobManager
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, QueueJob
from rentsync.settings import Settings
from rentsync.store.documents import DocumentRepository
from rentsync.store.ledger import LedgerRepository
from tests import ingest_fixtures as make
from tests.sync_rig import rig_for

PAYMENTS = (DocumentType.PAYMENT, DocumentType.REFUND, DocumentType.PAYMENT_VOID)


def _ended_by_procrastinate(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the jobs procrastinate's worker ends itself."""
    ended: list[int] = []
    finish = JobManager.finish_job_by_id_async

    async def counting(self: JobManager, job_id: int, **kwargs: Any) -> None:
        ended.append(job_id)
        await finish(self, job_id, **kwargs)

    monkeypatch.setattr(JobManager, "finish_job_by_id_async", counting)
    return ended


def _jobs_of(database_url: str, lock: str) -> list[tuple[int, str, int, list[str]]]:
    """(id, status, attempts, its events in order) of every job taking `lock`, oldest first."""
    with psycopg.connect(database_url) as conn:
        return [
            (int(row[0]), str(row[1]), int(row[2]), list(row[3]))
            for row in conn.execute(
                "SELECT j.id, j.status, j.attempts, array_agg(e.type::text ORDER BY e.id) "
                "FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id "
                "WHERE j.lock = %s GROUP BY j.id ORDER BY j.id",
                (lock,),
            ).fetchall()
        ]


async def test_p4_a_synced_orders_job_is_ended_by_the_statement_recording_its_outcome(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended_by_procrastinate = _ended_by_procrastinate(monkeypatch)
    async with rig_for(settings) as rig:
        await rig.ready_with_catalogue()
        await rig.put("orders", "O-1", make.order("3001"))
        assert (await rig.settled("orders", "O-1"))["state"] == "synced"
        lock = DocumentKey(rig.company_id, DocumentType.ORDER, "O-1").lock()
        [(job_id, status, attempts, events)] = _jobs_of(settings.database_url, lock)
        assert (status, attempts) == ("succeeded", 1)
        assert events == ["deferred", "started", "succeeded"]
        assert job_id not in ended_by_procrastinate
        # Unchanged (a resync of what QBO holds): ended the same way.
        resync = await rig.api.post("/api/v1/orders/O-1/resync", headers=rig.headers)
        assert resync.status_code == 202, resync.text
        assert (await rig.settled("orders", "O-1", attempts_after=1))["state"] == "synced"
        jobs = _jobs_of(settings.database_url, lock)
        assert [status for _, status, _, _ in jobs] == ["succeeded", "succeeded"]
        assert jobs[1][0] not in ended_by_procrastinate
        assert len(await rig.qbo_entities("Invoice")) == 1


async def test_p4_an_orders_job_with_payments_waiting_is_ended_after_they_are_scheduled(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended_by_procrastinate = _ended_by_procrastinate(monkeypatch)
    async with rig_for(settings) as rig:
        await rig.ready_with_catalogue()
        payment = {"order_id": "O-1", "amount": "450.00", "date": "2026-11-21", "method": "card"}
        await rig.put("payments", "PAY-1", payment)
        assert (await rig.settled("payments", "PAY-1"))["state"] == "skipped"
        await rig.put("orders", "O-1", make.order("3002"))
        assert (await rig.settled("orders", "O-1"))["state"] == "synced"
        assert (await rig.settled("payments", "PAY-1", attempts_after=1))["state"] == "synced"
        lock = DocumentKey(rig.company_id, DocumentType.ORDER, "O-1").lock()
        jobs = _jobs_of(settings.database_url, lock)
        # The payment's first job, the order's, then the payment's again (released by it).
        assert [status for _, status, _, _ in jobs] == ["succeeded"] * 3
        order_job = jobs[1][0]
        assert order_job in ended_by_procrastinate


async def _running_order(
    database_url: str, *, payment_waiting: bool
) -> tuple[AsyncConnectionPool[Any], DocumentKey, int]:
    """Order O-1 stored with its sync job taken by a worker (`doing`), as a job is while it
    runs; with `payment_waiting`, a payment of it skipped for want of its invoice."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        company = int(
            conn.execute("INSERT INTO companies (name) VALUES ('P4') RETURNING id").fetchall()[0][0]
        )
        worker = int(conn.execute("SELECT procrastinate_register_worker_v1()").fetchall()[0][0])
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    )
    await pool.open(wait=True)
    documents = DocumentRepository(pool)
    key = DocumentKey(company, DocumentType.ORDER, "O-1")
    if payment_waiting:
        payment = DocumentKey(company, DocumentType.PAYMENT, "PAY-1")
        await documents.put(
            payment, {"order_id": "O-1", "amount": "1.00"}, version=None, job_lock=key.lock()
        )
        with psycopg.connect(database_url, autocommit=True) as conn:
            # Its job ran and found no invoice in QBO.
            conn.execute("UPDATE sync_records SET state = 'skipped'")
            conn.execute("UPDATE procrastinate_jobs SET status = 'succeeded'")
    await documents.put(key, {"kind": "order"}, version=None)
    with psycopg.connect(database_url, autocommit=True) as conn:
        [row] = conn.execute(
            "SELECT id FROM procrastinate_fetch_job_v2(ARRAY['sync'], %s)", (worker,)
        ).fetchall()
    return pool, key, int(row[0])


@pytest.mark.parametrize("payment_waiting", [False, True], ids=["alone", "payment_waiting"])
async def test_p4_b1_a_worker_killed_after_the_outcome_loses_nothing(
    database_url: str, payment_waiting: bool
) -> None:
    """The worker dies right after the statement recording the order synced (nothing else of
    its job runs). Alone, the job is already ended (nothing to run again); with a payment
    waiting, it is still running, so the stalled-job reaper hands it back and its next run
    releases the payment."""
    pool, key, job_id = await _running_order(database_url, payment_waiting=payment_waiting)
    try:
        ending = QueueJob(id=job_id)
        await LedgerRepository(pool).record(
            key,
            state="synced",
            revision=1,
            started_at=datetime.now(UTC),
            outcome="synced",
            qbo={"qbo_entity": "Invoice", "qbo_id": "1", "sync_token": "0"},
            release=(key.lock(), PAYMENTS),
            ending=ending,
        )
    finally:
        await pool.close()
    with psycopg.connect(database_url) as conn:
        status = conn.execute(
            "SELECT status FROM procrastinate_jobs WHERE id = %s", (job_id,)
        ).fetchone()
        state = conn.execute("SELECT state FROM sync_records WHERE doc_type = 'order'").fetchone()
        released = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' "
            "AND args->>'source_id' = 'PAY-1'"
        ).fetchone()
    assert state == ("synced",)
    if payment_waiting:
        assert not ending.ended
        assert status == ("doing",)
        assert released == (1,)
    else:
        assert ending.ended
        assert status == ("succeeded",)
