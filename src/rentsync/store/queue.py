"""Defer procrastinate jobs inside the caller's transaction.

procrastinate's own `defer_async` takes a pooled connection of its own; to store a document
and schedule its job atomically we call its versioned SQL API on our connection instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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


def _along(
    query: str,
    values: dict[str, object],
    along_with: tuple[str, Mapping[str, object]] | None,
) -> tuple[str, dict[str, object]]:
    """`query` with the data-modifying statement `along_with` run in the same statement."""
    if along_with is None:
        return query, values
    statement, extra = along_with
    return f"WITH along_with AS ({statement}) {query}", {**values, **extra}


async def defer_job(
    conn: AsyncConnection[Any],
    params: Mapping[str, object],
    *,
    along_with: tuple[str, Mapping[str, object]] | None = None,
) -> int:
    """Defer one job with `job_params`' parameters; `along_with` is a data-modifying statement
    (with named parameters) run in the same statement, which saves a round trip on a hot path."""
    query, values = _along(defer_select(), dict(params), along_with)
    cursor = await conn.execute(query, values)
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


_MANY_COLUMNS = {
    "queue": "text",
    "task": "text",
    "priority": "integer",
    "lock": "text",
    "args": "jsonb",
    "at": "timestamptz",
}
"""`job_params`' keys and their SQL types, in `procrastinate_job_to_defer_v1`'s order."""


def defer_many_select() -> str:
    """The SELECT deferring several jobs from `jobs_params`' arrays, one row per job with its
    id, in the arrays' order (procrastinate inserts them in that order, so their ids follow
    it: a lock's jobs run in the order of their ids)."""
    arrays = ", ".join(f"%(jobs_{column})s::{kind}[]" for column, kind in _MANY_COLUMNS.items())
    return (
        "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY(SELECT ROW(j.queue, j.task, "
        "j.priority, j.lock, NULL, j.args, j.at)::procrastinate_job_to_defer_v1 "
        f"FROM unnest({arrays}) WITH ORDINALITY AS j({', '.join(_MANY_COLUMNS)}, n) "
        "ORDER BY j.n))) AS id"
    )


def jobs_params(jobs: Sequence[Mapping[str, object]]) -> dict[str, object]:
    """`defer_many_select`'s parameters: the columns of several `job_params`."""
    return {f"jobs_{column}": [job[column] for job in jobs] for column in _MANY_COLUMNS}


async def defer_jobs(
    conn: AsyncConnection[Any],
    jobs: Sequence[Mapping[str, object]],
    *,
    along_with: tuple[str, Mapping[str, object]] | None = None,
) -> list[int]:
    """Defer several jobs (each `job_params`' parameters) in one statement, in the given order;
    returns their ids in that order. `along_with` as in `defer_job`; its parameters must not
    start with `jobs_`."""
    if not jobs:
        return []
    query, values = _along(defer_many_select(), jobs_params(jobs), along_with)
    cursor = await conn.execute(query, values)
    return [int(row[0]) for row in await cursor.fetchall()]
