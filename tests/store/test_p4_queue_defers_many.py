"""Deferring many jobs in one statement leaves what deferring them one by one leaves (issue 13, P4).

`queue.defer_jobs` is the one place writing several jobs' rows from arrays (a bulk sync's step
hands dozens over at once); each job keeps its own queue, task, lock (or none), priority,
arguments and schedule, and the ids follow the order given.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rentsync import bootstrap
from rentsync.store import queue

_JOBS = (
    "SELECT queue_name, task_name, priority, lock, args, scheduled_at FROM procrastinate_jobs "
    "WHERE id = ANY(%s) ORDER BY id"
)


async def test_p4_many_jobs_deferred_at_once_keep_each_job_s_own_fields(
    services: bootstrap.Services,
) -> None:
    later = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    given = [
        queue.job_params(task_name="t.one", queue="q1", args={"n": 1, "é": "ü"}, lock="L"),
        queue.job_params(task_name="t.two", queue="q2", args={}, priority=-3, scheduled_at=later),
        queue.job_params(task_name="t.one", queue="q1", args={"n": [1, {"x": None}]}, lock="L"),
    ]
    async with services.pool.connection() as conn, conn.transaction():
        await conn.execute("CREATE TEMP TABLE along (n int) ON COMMIT DROP")
        ids = await queue.defer_jobs(
            conn, given, along_with=("INSERT INTO along VALUES (%(n)s)", {"n": 7})
        )
        cursor = await conn.execute("SELECT n FROM along")
        assert await cursor.fetchall() == [(7,)]  # the statement run along with them
        one = await queue.defer_job(conn, given[0])
        cursor = await conn.execute(_JOBS, ([*ids, one],))
        rows = await cursor.fetchall()

    assert len(ids) == 3 and ids == sorted(ids) and one > ids[-1]
    assert rows[0] == ("q1", "t.one", 0, "L", {"n": 1, "é": "ü"}, None)
    assert rows[1] == ("q2", "t.two", -3, None, {}, later)
    assert rows[2] == ("q1", "t.one", 0, "L", {"n": [1, {"x": None}]}, None)
    assert rows[3] == rows[0]  # one by one: the same row


async def test_p4_deferring_no_jobs_writes_nothing(services: bootstrap.Services) -> None:
    async with services.pool.connection() as conn:
        cursor = await conn.execute("SELECT count(*) FROM procrastinate_jobs")
        before = await cursor.fetchone()
        assert await queue.defer_jobs(conn, []) == []
        cursor = await conn.execute("SELECT count(*) FROM procrastinate_jobs")
        assert await cursor.fetchone() == before
