"""B9: a real-time job starts as soon as it is announced, never only at the next poll.

procrastinate forgets a job's announcement (NOTIFY) that arrives while a fetch which began
before the job was committed is running; the job then waited for the next poll. The worker
fetches again when that happened (`jobs._Worker`)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import procrastinate
import psycopg
from psycopg_pool import AsyncConnectionPool

from rentsync import jobs

QUEUE = "b9_pickup"


async def _autocommit(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)


async def _listening(database_url: str) -> bool:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s", (f"%LISTEN%{QUEUE}%",)
        )
        row = await cursor.fetchone()
        return bool(row and row[0])


async def test_b9_a_job_announced_during_an_empty_fetch_starts_without_waiting_for_the_poll(
    database_url: str,
) -> None:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url, min_size=1, max_size=4, open=False, configure=_autocommit
    )
    app = procrastinate.App(connector=procrastinate.PsycopgConnector())
    ran: list[str] = []
    ran_event = asyncio.Event()

    @app.task(name="tests.b9_pickup", queue=QUEUE)
    async def note(name: str) -> None:
        ran.append(name)
        ran_event.set()

    await pool.open(wait=True)
    await app.open_async(pool)
    worker = jobs._Worker(
        app=app,
        queues=[QUEUE],
        concurrency=2,
        # Only an announcement starts a job here: the next poll is an hour away.
        fetch_job_polling_interval=3600,
        install_signal_handlers=False,
    )
    fetch = app.job_manager.fetch_job
    armed = False
    raced = 0

    async def fetch_while_a_job_arrives(**kwargs: Any) -> Any:
        """An empty fetch during which another job is committed and announced."""
        nonlocal armed, raced
        job = await fetch(**kwargs)
        if job is None and armed:
            armed = False
            worker._notified = False
            await note.defer_async(name="announced during an empty fetch")
            async with asyncio.timeout(10):
                # The listener got its NOTIFY (`_notified`: procrastinate's own event is cleared
                # by whichever of the lane's fetch loops ends next).
                while not worker._notified:
                    await asyncio.sleep(0.01)
            raced += 1
        return job

    app.job_manager.fetch_job = fetch_while_a_job_arrives  # type: ignore[method-assign]
    running = asyncio.create_task(worker.run())  # type: ignore[no-untyped-call]
    try:
        async with asyncio.timeout(20):
            while not await _listening(database_url):
                await asyncio.sleep(0.05)
        # A job: its announcement wakes the worker, which fetches it, then fetches again and
        # finds nothing; during that empty fetch the next job arrives.
        armed = True
        await note.defer_async(name="first")
        async with asyncio.timeout(20):
            while (len(ran) < 2 or not raced) and not running.done():
                ran_event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ran_event.wait(), 0.5)
        assert raced == 1, "the empty fetch never happened: the test proved nothing"
        assert ran == ["first", "announced during an empty fetch"]
    finally:
        worker.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, 15)
        await app.close_async()
        await pool.close()
