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
import pytest
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


STREAM_QUEUE = "p4_fetch_loops_stream"


async def test_p4_a_failing_fetch_loop_stops_the_lane_under_a_steady_stream_losing_no_job(
    database_url: str,
) -> None:
    """One loop's fetch fails (the database went away, as far as it knows): the worker must stop
    (so that `WorkerRunner` reconnects and starts again). It stopped only once every loop had
    ended, and the other loop, with jobs always waiting, never did. The jobs in flight are
    aborted and retried, as on any stop on its own: every job runs."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url, min_size=1, max_size=6, open=False, configure=_autocommit
    )
    app = procrastinate.App(connector=procrastinate.PsycopgConnector())
    ran: set[int] = set()

    @app.task(
        name="tests.p4_stream",
        queue=STREAM_QUEUE,
        retry=procrastinate.RetryStrategy(max_attempts=5),
    )
    async def work(n: int) -> None:
        await asyncio.sleep(0.05)
        ran.add(n)

    await pool.open(wait=True)
    await app.open_async(pool)
    deferred = 0
    streaming = True

    async def stream() -> None:
        """More jobs a second than the lane runs (3 slots of 50 ms): some always wait."""
        nonlocal deferred
        while streaming:
            await work.defer_async(n=deferred)
            deferred += 1
            await asyncio.sleep(0.005)

    fetch = app.job_manager.fetch_job
    fetches = 0

    async def fetch_failing_once(**kwargs: Any) -> Any:
        nonlocal fetches
        fetches += 1
        if fetches == 30:
            raise procrastinate.exceptions.ConnectorException("the database went away (test)")
        return await fetch(**kwargs)

    app.job_manager.fetch_job = fetch_failing_once  # type: ignore[method-assign]
    producer = asyncio.create_task(stream())
    worker = jobs._Worker(
        app=app,
        queues=[STREAM_QUEUE],
        concurrency=3,
        fetch_job_polling_interval=0.2,
        install_signal_handlers=False,
    )
    run = asyncio.create_task(worker.run())  # type: ignore[no-untyped-call]
    try:
        # A bound for a hang, not a timing requirement: the stream never dries up.
        done, _ = await asyncio.wait({run}, timeout=30)
        assert done, "the worker went on fetching after one of its loops failed"
        with pytest.raises(procrastinate.exceptions.ConnectorException):
            run.result()
        assert worker.stopping and fetches >= 30
        streaming = False
        await producer
        app.job_manager.fetch_job = fetch  # type: ignore[method-assign]
        drain = jobs._Worker(
            app=app,
            queues=[STREAM_QUEUE],
            concurrency=3,
            fetch_job_polling_interval=0.2,
            install_signal_handlers=False,
        )
        draining = asyncio.create_task(drain.run())  # type: ignore[no-untyped-call]
        try:
            async with asyncio.timeout(60):
                while ran != set(range(deferred)):
                    await asyncio.sleep(0.05)
        finally:
            drain.request_stop()
            await asyncio.wait_for(draining, 15)
        async with pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT status, count(*) FROM procrastinate_jobs WHERE queue_name = %s "
                "GROUP BY status",
                (STREAM_QUEUE,),
            )
            assert dict(await cursor.fetchall()) == {"succeeded": deferred}
    finally:
        streaming = False
        worker.stop()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(run, 15)
        with contextlib.suppress(BaseException):
            await producer
        await app.close_async()
        await pool.close()
