"""B9: a lane's worker ends when stopped, also when a job loses the cancellation that aborts it.

On Python 3.11 `asyncio.wait_for` returns normally, dropping the cancellation, when its
awaitable finishes in the step the cancellation arrives (psycopg_pool waits for a connection
that way). procrastinate cancels a job once at the end of a graceful stop and then waits for it
without end, so a bulk sync's loop that lost it (it polls for the whole run) kept its lane, and
the process, from ever stopping. The worker cancels such a job again (`jobs._Worker`)."""

from __future__ import annotations

import asyncio
from typing import Any

import procrastinate
from psycopg_pool import AsyncConnectionPool

from rentsync import jobs
from tests.jobs.test_b9_job_pickup import _autocommit

QUEUE = "b9_lane_stop"


async def test_b9_a_job_that_loses_its_cancellation_does_not_keep_its_lane_from_stopping(
    database_url: str,
) -> None:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url, min_size=1, max_size=4, open=False, configure=_autocommit
    )
    app = procrastinate.App(connector=procrastinate.PsycopgConnector())
    started = asyncio.Event()
    cancellations: list[int] = []

    @app.task(name="tests.b9_polls_until_done", queue=QUEUE)
    async def polls_until_done() -> None:
        started.set()
        while True:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                cancellations.append(1)
                if len(cancellations) > 1:
                    raise
                # The first one is lost, as asyncio.wait_for loses it on Python 3.11.

    await pool.open(wait=True)
    await app.open_async(pool)
    worker = jobs._Worker(
        app=app,
        queues=[QUEUE],
        concurrency=1,
        fetch_job_polling_interval=0.2,
        shutdown_graceful_timeout=0.2,
        install_signal_handlers=False,
    )
    try:
        await polls_until_done.defer_async()
        run = asyncio.create_task(worker.run())
        await asyncio.wait_for(started.wait(), timeout=30)
        # The in-process graceful stop: the job gets its graceful stop, then is aborted.
        run.cancel()
        done, _ = await asyncio.wait({run}, timeout=30)
        assert done, "the worker did not stop: its job lost its cancellation and ran on"
        assert len(cancellations) == 2
        async with pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT status FROM procrastinate_jobs WHERE queue_name = %s", (QUEUE,)
            )
            assert [row[0] for row in await cursor.fetchall()] != ["doing"]
    finally:
        await app.close_async()
        await pool.close()
