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

_DEFER = (
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW("
    "%(queue)s, %(task)s, %(priority)s, %(lock)s, NULL, %(args)s::jsonb, %(at)s"
    ")::procrastinate_job_to_defer_v1])) AS id"
)


async def defer_job(
    conn: AsyncConnection[Any],
    *,
    task_name: str,
    queue: str,
    args: Mapping[str, object],
    lock: str | None = None,
    priority: int = 0,
    scheduled_at: datetime | None = None,
    along_with: tuple[str, Mapping[str, object]] | None = None,
) -> int:
    """Defer one job; `along_with` is a data-modifying statement (with named parameters) run in
    the same statement, which saves a round trip on a hot path."""
    query = _DEFER
    params: dict[str, object] = {
        "queue": queue,
        "task": task_name,
        "priority": priority,
        "lock": lock,
        "args": json.dumps(dict(args)),
        "at": scheduled_at,
    }
    if along_with is not None:
        statement, extra = along_with
        query = f"WITH along_with AS ({statement}) {_DEFER}"
        params.update(extra)
    cursor = await conn.execute(query, params)
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])
