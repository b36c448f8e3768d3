"""Issue 13, P4: a worker lane fetches more than one job at a time.

procrastinate's worker fetches one job, starts it, then fetches the next: each fetch a round
trip, so under a burst the lane waited on its one fetch while its slots stood free
(`jobs._Worker`, `jobs.FETCH_LOOPS`)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import procrastinate
import psycopg
from psycopg_pool import AsyncConnectionPool

from rentsync import jobs

QUEUE = "p4_fetch_loops"


async def _autocommit(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)


async def test_p4_a_lane_fetches_jobs_side_by_side_within_its_slots(database_url: str) -> None:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url, min_size=1, max_size=6, open=False, configure=_autocommit
    )
    app = procrastinate.App(connector=procrastinate.PsycopgConnector())
    running = 0
    most_running = 0
    ran: list[int] = []
    release = asyncio.Event()

    @app.task(name="tests.p4_fetch_loops", queue=QUEUE)
    async def hold(n: int) -> None:
        nonlocal running, most_running
        running += 1
        most_running = max(most_running, running)
        await release.wait()
        running -= 1
        ran.append(n)

    await pool.open(wait=True)
    await app.open_async(pool)
    for n in range(5):
        await hold.defer_async(n=n)
    worker = jobs._Worker(
        app=app,
        queues=[QUEUE],
        concurrency=3,
        fetch_job_polling_interval=0.2,
        install_signal_handlers=False,
    )
    fetch = app.job_manager.fetch_job
    fetching = 0
    most_fetching = 0
    two_at_once = asyncio.Event()

    async def fetch_waiting_for_a_second_one(**kwargs: Any) -> Any:
        """A fetch that waits (up to 5 s) until another fetch has begun beside it."""
        nonlocal fetching, most_fetching
        fetching += 1
        most_fetching = max(most_fetching, fetching)
        if fetching >= jobs.FETCH_LOOPS:
            two_at_once.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(two_at_once.wait(), 5)
        try:
            return await fetch(**kwargs)
        finally:
            fetching -= 1

    app.job_manager.fetch_job = fetch_waiting_for_a_second_one  # type: ignore[method-assign]
    run = asyncio.create_task(worker.run())  # type: ignore[no-untyped-call]
    try:
        async with asyncio.timeout(30):
            while running < 3 and not run.done():
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # a fourth job would have started by now
            assert most_running == 3, "never more jobs than the lane's slots"
            release.set()
            while len(ran) < 5 and not run.done():
                await asyncio.sleep(0.02)
        assert sorted(ran) == [0, 1, 2, 3, 4]
        assert most_fetching == jobs.FETCH_LOOPS >= 2
    finally:
        release.set()
        worker.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(run, 15)
        await app.close_async()
        await pool.close()
