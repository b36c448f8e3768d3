"""B1: a document's sync deferred again behind its dependency's queued change (`store.requeue`).

The new job takes the running job's lock and queue, is queued after the dependency's job and
never at a higher priority (procrastinate lets a higher priority pass an earlier job of the
same lock); with nothing of the dependency queued under that lock, nothing is deferred.
"""

from __future__ import annotations

from typing import Any

from rentsync import bootstrap
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.triggers import Trigger
from rentsync.store.bulk_syncs import DOCUMENT_PRIORITY
from rentsync.store.documents import BULK_SYNC_QUEUE, SYNC_QUEUE, schedule_sync


async def _job(services: bootstrap.Services, job_id: int) -> tuple[Any, ...]:
    async with services.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT lock, queue_name, priority, status, args FROM procrastinate_jobs WHERE id = %s",
            (job_id,),
        )
        row = await cursor.fetchone()
    assert row is not None
    return tuple(row)


async def _latest(services: bootstrap.Services) -> int:
    async with services.pool.connection() as conn:
        cursor = await conn.execute("SELECT max(id) FROM procrastinate_jobs")
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def test_b1_a_payment_is_requeued_behind_its_bills_queued_change(
    services: bootstrap.Services,
) -> None:
    company, _ = await services.companies.create("Requeue Rentals")
    vendor = DocumentKey(company.id, DocumentType.VENDOR, "V-1")
    bill = DocumentKey(company.id, DocumentType.VENDOR_BILL, "B-1")
    paid = DocumentKey(company.id, DocumentType.VENDOR_PAYMENT, "VP-1")
    other = DocumentKey(company.id, DocumentType.VENDOR_BILL, "B-2")
    for key in (bill, paid, other):
        await services.documents.put(key, {"vendor_id": "V-1"}, version=1, job_lock=vendor.lock())
    async with services.pool.connection() as conn:
        await conn.execute("DELETE FROM procrastinate_jobs")

    async with services.pool.connection() as conn, conn.transaction():
        running = await schedule_sync(
            conn, paid, revision=1, trigger=Trigger.AUTOMATIC, lock=vendor.lock()
        )
        # The bill's change, queued after the payment's job, in the bulk lane at its priority.
        behind = await schedule_sync(
            conn,
            bill,
            revision=1,
            trigger=Trigger.BULK_SYNC,
            lock=vendor.lock(),
            priority=DOCUMENT_PRIORITY,
            queue=BULK_SYNC_QUEUE,
        )

    assert await services.documents.requeue_behind(paid, dependency=bill, job_id=running)
    requeued = await _latest(services)
    assert requeued > behind
    lock, queue, priority, status, args = await _job(services, requeued)
    assert (lock, queue, status) == (vendor.lock(), SYNC_QUEUE, "todo")
    assert priority == DOCUMENT_PRIORITY  # not above the bill's, which it must not pass
    assert args == {"company_id": company.id, "doc_type": "vendor_payment", "source_id": "VP-1"}

    # Nothing of B-2 is queued: nothing to wait behind, nothing deferred.
    assert not await services.documents.requeue_behind(paid, dependency=other, job_id=running)
    assert await _latest(services) == requeued
    # B-2's deletion behind any queued vendor payment (VP-1's, requeued), none behind bills.
    assert await services.documents.requeue_behind(
        other, kinds=(DocumentType.VENDOR_PAYMENT,), job_id=None
    )
    assert (await _job(services, await _latest(services)))[0] == vendor.lock()
    assert not await services.documents.requeue_behind(
        paid, kinds=(DocumentType.PURCHASE_ORDER,), job_id=running
    )


async def test_b1_a_dependency_queued_under_another_lock_is_not_waited_for(
    services: bootstrap.Services,
) -> None:
    company, _ = await services.companies.create("Other Lock Rentals")
    bill = DocumentKey(company.id, DocumentType.VENDOR_BILL, "B-1")
    paid = DocumentKey(company.id, DocumentType.VENDOR_PAYMENT, "VP-1")
    for key in (bill, paid):
        await services.documents.put(key, {"vendor_id": "V-1"}, version=1)
    async with services.pool.connection() as conn:
        await conn.execute("DELETE FROM procrastinate_jobs")
    async with services.pool.connection() as conn, conn.transaction():
        running = await schedule_sync(conn, paid, revision=1, trigger=Trigger.AUTOMATIC)
        await schedule_sync(conn, bill, revision=1, trigger=Trigger.AUTOMATIC)
    # Their jobs take their own locks: requeueing would order nothing.
    assert not await services.documents.requeue_behind(paid, dependency=bill, job_id=running)
