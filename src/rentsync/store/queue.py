"""Defer procrastinate jobs inside the caller's transaction.

procrastinate's own `defer_async` takes a pooled connection of its own; to store a document
and schedule its job atomically we call its versioned SQL API on our connection instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection


def defer_select(*, lock: str = "%(lock)s", columns: str = "", source: str = "") -> str:
    """The SELECT deferring one job with `job_params`' parameters: `lock` an SQL expression,
    `columns` more output columns before the job's id, `source` a FROM clause (one job per
    row; none without a row)."""
    return (
        f"SELECT {columns}unnest(procrastinate_defer_jobs_v1(ARRAY[ROW("
        f"%(queue)s, %(task)s, %(priority)s, {lock}, NULL, %(args)s::jsonb, %(at)s"
        f")::procrastinate_job_to_defer_v1])) AS id {source}"
    )


def job_params(
    *,
    task_name: str,
    queue: str,
    args: Mapping[str, object],
    lock: str | None = None,
    priority: int = 0,
    scheduled_at: datetime | None = None,
) -> dict[str, object]:
    return {
        "queue": queue,
        "task": task_name,
        "priority": priority,
        "lock": lock,
        "args": json.dumps(dict(args)),
        "at": scheduled_at,
    }


async def defer_job(
    conn: AsyncConnection[Any],
    params: Mapping[str, object],
    *,
    along_with: tuple[str, Mapping[str, object]] | None = None,
) -> int:
    """Defer one job with `job_params`' parameters; `along_with` is a data-modifying statement
    (with named parameters) run in the same statement, which saves a round trip on a hot path."""
    query = defer_select()
    values = dict(params)
    if along_with is not None:
        statement, extra = along_with
        query = f"WITH along_with AS ({statement}) {query}"
        values.update(extra)
    cursor = await conn.execute(query, values)
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])
