"""Send a document's sync to the back of its lock, behind a queued change it depends on.

A lock's jobs run in the order of their ids (priority first), and every job sends its
document's newest snapshot: a job queued before its dependency's change can carry a snapshot
made after it (a vendor payment's new amount, queued behind the bill's new amount). Such a job
defers its document's sync again, behind the dependency's queued job, and ends. So does a
deletion that QBO would refuse while the documents queued behind it are still linked to it (a
bill deleted before its payments: 6220).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey

REQUEUE_BEHIND = (
    "WITH this AS (SELECT "
    # The running job's lock, queue and priority; a run without one (called directly) takes
    # the document's own lock, the real-time queue and the default priority.
    "coalesce((SELECT j.lock FROM procrastinate_jobs j WHERE j.id = %(job)s), "
    "(SELECT d.job_lock FROM documents d WHERE d.company_id = %(company)s "
    "AND d.doc_type = %(type)s AND d.source_id = %(id)s), %(own_lock)s) AS lock, "
    "coalesce((SELECT j.queue_name FROM procrastinate_jobs j WHERE j.id = %(job)s), "
    "%(queue)s) AS queue_name, "
    "coalesce((SELECT j.priority FROM procrastinate_jobs j WHERE j.id = %(job)s), 0) "
    "AS priority), "
    # The dependencies' queued jobs under the same lock (found by the open jobs' lock index,
    # `store.migrate`): one document's, or every document's of some kinds.
    "ahead AS (SELECT min(j.priority) AS priority FROM procrastinate_jobs j, this "
    "WHERE j.lock = this.lock AND j.status = 'todo' AND j.task_name = %(task)s "
    "AND (j.args @> %(dependency)s::jsonb OR j.args->>'doc_type' = ANY(%(kinds)s::text[]))) "
    # No higher priority than the dependency's job, or it would pass it again.
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(this.queue_name, %(task)s, "
    "least(this.priority, ahead.priority), this.lock, NULL, %(args)s::jsonb, NULL"
    ")::procrastinate_job_to_defer_v1])) FROM this, ahead WHERE ahead.priority IS NOT NULL"
)


def _args(key: DocumentKey) -> str:
    return json.dumps(
        {"company_id": key.company_id, "doc_type": key.doc_type.value, "source_id": key.source_id}
    )


async def requeue_behind(
    conn: AsyncConnection[Any],
    key: DocumentKey,
    *,
    dependency: DocumentKey | None = None,
    kinds: Sequence[DocumentType] = (),
    job_id: int | None,
    task: str,
    queue: str,
) -> int | None:
    """Defer `key`'s sync behind the sync jobs queued under the same lock as the running job
    `job_id` of `dependency` or of any document of `kinds`; the new job's id, or None when
    none is queued there (nothing to wait behind)."""
    cursor = await conn.execute(
        REQUEUE_BEHIND,
        {
            "job": job_id,
            "company": key.company_id,
            "type": key.doc_type.value,
            "id": key.source_id,
            "own_lock": key.lock(),
            "queue": queue,
            "task": task,
            # A key no job has when only kinds are asked for.
            "dependency": _args(dependency) if dependency is not None else '{"doc_type": null}',
            "kinds": [kind.value for kind in kinds],
            "args": _args(key),
        },
    )
    row = await cursor.fetchone()
    return None if row is None else int(row[0])
