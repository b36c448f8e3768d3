"""A group job's members in procrastinate's table (issue 13, P4: one job per group).

A bulk sync hands its documents over as their ordinary sync jobs, held back (`scheduled_at` a
little ahead) so the lane's fetch loop leaves them alone, and one group job that runs them
together. The group claims its members here: what procrastinate's fetch does for one job
(`procrastinate_fetch_job_v2`: todo -> doing under the worker, only when no other job of the
lock runs or is ahead of it), for many in one statement. A member it cannot claim (a job of
the same lock ahead of it: a real-time change, or the order before its payment still running)
is released to the lane as an ordinary job. Whatever happens to the group, each member is a
job of its own: a worker killed mid-group leaves its members `doing` under a dead worker, and
the stalled-job reaper hands them back like any job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey


@dataclass(frozen=True, kw_only=True)
class Member:
    """A member job the group claimed: its id, the document it syncs and its attempts."""

    job_id: int
    key: DocumentKey
    attempts: int


# procrastinate's fetch rule (schema.sql, `procrastinate_fetch_job_v2`), kept as it is: a job
# whose lock has another job running, or waiting ahead of it (higher priority, or the same
# priority and queued first), is not taken. A member is claimable while still held for its
# group (attempts 0: never run) or, once run and put back, when due like any job.
_CLAIM = """
WITH claimable AS (
    SELECT jobs.id FROM procrastinate_jobs AS jobs
    WHERE jobs.id = ANY(%(members)s::bigint[]) AND jobs.status = 'todo'
      AND (jobs.attempts = 0 OR jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
      AND NOT EXISTS (
          SELECT 1 FROM procrastinate_jobs AS other
          WHERE jobs.lock IS NOT NULL AND other.lock = jobs.lock
            AND (other.status = 'doing' OR (other.status = 'todo' AND (
                other.priority > jobs.priority
                OR (other.priority = jobs.priority AND other.id < jobs.id)))))
    ORDER BY jobs.id
    FOR UPDATE OF jobs SKIP LOCKED
)
UPDATE procrastinate_jobs AS j
SET status = 'doing', worker_id = (SELECT g.worker_id FROM procrastinate_jobs AS g
                                   WHERE g.id = %(group)s AND g.status = 'doing')
FROM claimable
WHERE j.id = claimable.id
  AND EXISTS (SELECT 1 FROM procrastinate_jobs AS g WHERE g.id = %(group)s AND g.status = 'doing')
RETURNING j.id, j.args, j.attempts
"""


class JobGroups:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def claim(self, group_job_id: int, member_ids: Sequence[int]) -> list[Member]:
        """Take the members that may run now (as procrastinate's fetch would take each) under
        the group job's worker; none while the group job itself is not running (requeued
        from under a stalled worker: its members are ordinary jobs again). Another worker
        taking a job of the same lock at the same moment makes the statement fail on
        procrastinate's unique index of running locks: then none is claimed this time."""
        if not member_ids:
            return []
        async with self._pool.connection() as conn:
            try:
                cursor = await conn.execute(
                    _CLAIM, {"members": list(member_ids), "group": group_job_id}
                )
            except pg_errors.UniqueViolation:
                return []
            rows: list[tuple[int, dict[str, Any], int]] = await cursor.fetchall()
        return [
            Member(
                job_id=int(job_id),
                key=DocumentKey(
                    int(args["company_id"]), DocumentType(args["doc_type"]), str(args["source_id"])
                ),
                attempts=int(attempts),
            )
            for job_id, args, attempts in rows
        ]

    async def release(self, member_ids: Sequence[int]) -> int:
        """Hand the members still held for the group (never run) to the lane as ordinary jobs,
        due now; they then wait for their lock as any job does. Returns how many."""
        if not member_ids:
            return 0
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "UPDATE procrastinate_jobs SET scheduled_at = NULL "
                "WHERE id = ANY(%s::bigint[]) AND status = 'todo' AND attempts = 0",
                (list(member_ids),),
            )
            return cursor.rowcount

    async def put_back(self, member_ids: Sequence[int]) -> None:
        """Return members still running to the queue, due now (the group was stopped before
        they ended); one that ended meanwhile is left as it is."""
        if not member_ids:
            return
        async with self._pool.connection() as conn:
            await conn.execute(
                "SELECT procrastinate_retry_job_v2(id, now(), NULL, NULL, NULL) "
                "FROM procrastinate_jobs WHERE id = ANY(%s::bigint[]) AND status = 'doing'",
                (list(member_ids),),
            )
