"""A group job claims its members as procrastinate's fetch would take each (issue 13, P4).

The members are a bulk sync's ordinary sync jobs, held (due a minute ahead) so the lane's fetch
leaves them to their group. The claim must keep procrastinate's lock rule: an order's payment
only once the order's job has ended, nothing of a lock while another job of it runs or a job
of it waits ahead (a real-time change: higher priority); members it cannot claim are released
to the lane as ordinary jobs; nothing is claimed for a group job no longer running (requeued
from under a stalled worker).
"""

from __future__ import annotations

from typing import Any

from rentsync import bootstrap
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.triggers import Trigger
from rentsync.store import queue as queue_module
from rentsync.store.bulk_syncs import DOCUMENT_PRIORITY
from rentsync.store.documents import (
    BULK_SYNC_QUEUE,
    GROUP_TASK,
    Scheduled,
    schedule_sync,
    schedule_syncs,
)
from rentsync.store.job_groups import JobGroups


async def _state(services: bootstrap.Services, job_id: int) -> tuple[Any, ...]:
    async with services.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT status, scheduled_at IS NOT NULL AND scheduled_at > now() "
            "FROM procrastinate_jobs WHERE id = %s",
            (job_id,),
        )
        row = await cursor.fetchone()
    assert row is not None
    return tuple(row)


async def _fetch(services: bootstrap.Services) -> int | None:
    """procrastinate's own fetch of the bulk lane, as a worker's loop does it."""
    async with services.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT id FROM procrastinate_fetch_job_v2(ARRAY[%s]::varchar[], NULL)",
            (BULK_SYNC_QUEUE,),
        )
        row = await cursor.fetchone()
    return None if row is None or row[0] is None else int(row[0])


async def _finish(services: bootstrap.Services, job_id: int) -> None:
    async with services.pool.connection() as conn:
        await conn.execute("SELECT procrastinate_finish_job_v1(%s, 'succeeded', false)", (job_id,))


async def test_p4_a_group_claims_its_members_under_procrastinate_s_lock_rule(
    services: bootstrap.Services,
) -> None:
    company, _ = await services.companies.create("Group Claim Rentals")
    order = DocumentKey(company.id, DocumentType.ORDER, "O-1")
    paid = DocumentKey(company.id, DocumentType.PAYMENT, "PAY-1")
    raced = DocumentKey(company.id, DocumentType.ORDER, "O-2")
    alone = DocumentKey(company.id, DocumentType.ORDER, "O-3")
    for key in (order, raced, alone):
        await services.documents.put(key, {"kind": "order"}, version=1)
    await services.documents.put(paid, {"voided": False}, version=1, job_lock=order.lock())
    async with services.pool.connection() as conn:
        await conn.execute("DELETE FROM procrastinate_jobs")

    async with services.pool.connection() as conn, conn.transaction():
        members = await schedule_syncs(
            conn,
            [
                Scheduled(key=order, revision=1, priority=DOCUMENT_PRIORITY),
                Scheduled(key=paid, revision=1, lock=order.lock(), priority=DOCUMENT_PRIORITY),
                Scheduled(key=raced, revision=1, priority=DOCUMENT_PRIORITY),
                Scheduled(key=alone, revision=1, priority=DOCUMENT_PRIORITY),
            ],
            trigger=Trigger.BULK_SYNC,
            queue=BULK_SYNC_QUEUE,
            hold_seconds=60,
        )
        group = await queue_module.defer_job(
            conn,
            queue_module.job_params(
                task_name=GROUP_TASK,
                queue=BULK_SYNC_QUEUE,
                args={"job_ids": members},
                priority=DOCUMENT_PRIORITY,
            ),
        )
        # A real-time change of O-2 arrives after the hand-over: its job (priority 0) passes
        # the held member, as procrastinate lets it; the member waits behind it.
        real_time = await schedule_sync(conn, raced, revision=2, trigger=Trigger.UPDATE)
    first, payment, behind, last = members
    groups = JobGroups(services.pool)

    assert await groups.claim(group, members) == [], "claimed for a group job not running"
    # The lane's fetch takes the group job, not its held members.
    assert await _fetch(services) == group
    assert await _fetch(services) is None, "the lane fetched a held member"

    claimed = await groups.claim(group, members)
    assert [(m.job_id, m.key, m.attempts) for m in claimed] == [(first, order, 0), (last, alone, 0)]
    assert await _state(services, first) == ("doing", True)
    assert await _state(services, payment) == ("todo", True), "a payment beside its order"
    assert await _state(services, behind) == ("todo", True), "overtook a real-time change"
    assert await groups.claim(group, [payment, behind]) == []

    await _finish(services, first)
    await _finish(services, last)
    again = await groups.claim(group, [payment, behind])
    assert [m.job_id for m in again] == [payment], "the payment once its order ended"

    # What the group cannot claim goes to the lane as an ordinary job, behind the real-time
    # job of its lock (procrastinate's own rule from there on).
    assert await groups.release([behind]) == 1
    assert await _state(services, behind) == ("todo", False)
    async with services.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT id FROM procrastinate_fetch_job_v2(ARRAY['sync']::varchar[], NULL)"
        )
        row = await cursor.fetchone()
    assert row is not None and row[0] == real_time
    assert await _fetch(services) is None, "the member ran beside the real-time job of its lock"
    await _finish(services, real_time)
    assert await _fetch(services) == behind

    # Members still running when the group stops go back to the queue, due now; ended ones
    # stay ended.
    await groups.put_back([payment, first])
    assert await _state(services, payment) == ("todo", False)
    assert (await _state(services, first))[0] == "succeeded"
