"""A bulk sync's step hands its documents to the sync in one statement (issue 13, P4).

`schedule_syncs` must leave what `schedule_sync` leaves for each document, one at a time: the
ledger row pending with the trigger and the revision, and a job with the document's arguments,
lock, queue and priority; the jobs in the order given, since a lock's jobs run in the order of
their ids (an order's invoice before its payments, R18's groups). A document given twice (one
INSERT ... ON CONFLICT cannot touch a row twice) is scheduled one at a time.
"""

from __future__ import annotations

from typing import Any

from rentsync import bootstrap
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.triggers import Trigger
from rentsync.store.documents import (
    BULK_SYNC_QUEUE,
    SYNC_TASK,
    Scheduled,
    schedule_sync,
    schedule_syncs,
)

_JOBS = "SELECT id, queue_name, task_name, priority, lock, args, status FROM procrastinate_jobs"


async def _jobs(services: bootstrap.Services, ids: list[int]) -> list[tuple[Any, ...]]:
    async with services.pool.connection() as conn:
        cursor = await conn.execute(f"{_JOBS} WHERE id = ANY(%s) ORDER BY id", (ids,))
        return list(await cursor.fetchall())


async def test_r18_a_step_s_documents_are_scheduled_in_one_statement_as_one_by_one(
    services: bootstrap.Services,
) -> None:
    company, _ = await services.companies.create("Hand Over Rentals")
    first = DocumentKey(company.id, DocumentType.ORDER, "O-1")
    paid = DocumentKey(company.id, DocumentType.PAYMENT, "PAY-1")
    second = DocumentKey(company.id, DocumentType.ORDER, "O-2")
    alone = DocumentKey(company.id, DocumentType.ORDER, "O-3")
    await services.documents.put(first, {"kind": "order"}, version=1)
    await services.documents.put(first, {"kind": "order", "v": 2}, version=2)
    await services.documents.put(paid, {"voided": False}, version=1, job_lock=first.lock())
    await services.documents.put(second, {"kind": "order"}, version=1)
    await services.documents.put(alone, {"kind": "order"}, version=1)
    async with services.pool.connection() as conn:
        await conn.execute("DELETE FROM procrastinate_jobs")

    given = [
        Scheduled(key=first, revision=2, priority=-2),
        Scheduled(key=paid, revision=1, lock=first.lock(), priority=-2),
        Scheduled(key=second, revision=1, priority=-1),
    ]
    async with services.pool.connection() as conn, conn.transaction():
        ids = await schedule_syncs(conn, given, trigger=Trigger.BULK_SYNC, queue=BULK_SYNC_QUEUE)
        one = await schedule_sync(
            conn,
            alone,
            revision=1,
            trigger=Trigger.BULK_SYNC,
            priority=-1,
            queue=BULK_SYNC_QUEUE,
        )

    assert len(ids) == 3 and ids == sorted(ids) and one > ids[-1]  # in the order given
    jobs = await _jobs(services, [*ids, one])
    assert [job[0] for job in jobs] == [*ids, one]
    expected = [(first, first.lock(), -2), (paid, first.lock(), -2), (second, second.lock(), -1)]
    expected.append((alone, alone.lock(), -1))
    for job, (key, lock, priority) in zip(jobs, expected, strict=True):
        assert job[1:5] == (BULK_SYNC_QUEUE, SYNC_TASK, priority, lock)
        assert job[5] == {
            "company_id": key.company_id,
            "doc_type": key.doc_type.value,
            "source_id": key.source_id,
        }
        assert job[6] == "todo"

    records = await services.ledger.get_many([first, paid, second, alone])
    for key, revision in ((first, 2), (paid, 1), (second, 1), (alone, 1)):
        record = records[key]
        assert (record.state, record.trigger) == ("pending", Trigger.BULK_SYNC.value)
        assert record.requested_revision == revision
        assert record.last_user_action_at is not None  # a bulk sync is the user's action (R14)


async def test_r18_a_document_given_twice_is_scheduled_twice(
    services: bootstrap.Services,
) -> None:
    company, _ = await services.companies.create("Twice Rentals")
    key = DocumentKey(company.id, DocumentType.ORDER, "O-1")
    await services.documents.put(key, {"kind": "order"}, version=1)
    async with services.pool.connection() as conn:
        await conn.execute("DELETE FROM procrastinate_jobs")
    async with services.pool.connection() as conn, conn.transaction():
        ids = await schedule_syncs(
            conn,
            [Scheduled(key=key, revision=1), Scheduled(key=key, revision=1)],
            trigger=Trigger.BULK_SYNC,
            queue=BULK_SYNC_QUEUE,
        )
    assert len(ids) == 2 and ids[0] < ids[1]
    assert [job[4] for job in await _jobs(services, ids)] == [key.lock(), key.lock()]
    async with services.pool.connection() as conn:
        assert await schedule_syncs(conn, [], trigger=Trigger.BULK_SYNC) == []
