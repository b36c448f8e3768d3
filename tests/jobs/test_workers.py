"""Workers as separate processes: sharing jobs, surviving a killed worker, draining on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from rentsync.jobs import LANES_PER_WORKER
from rentsync.settings import Settings
from rentsync.store.diagnostics import DiagnosticsRepository

RENTSYNC = str(Path(sys.executable).with_name("rentsync"))
PING_TASK = "rentsync.diagnostic_ping"


class Workers:
    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.settings = settings
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(
        self, *, concurrency: int = 4, stalled_after_seconds: int = 2, args: tuple[str, ...] = ()
    ) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DATABASE_URL": self.settings.database_url or "",
            "RENTSYNC_DATA_DIR": str(self.tmp_path / "data"),
            "RENTSYNC_STALLED_AFTER_SECONDS": str(stalled_after_seconds),
        }
        with (self.tmp_path / f"worker-{len(self.processes)}.log").open("wb") as log:
            process = subprocess.Popen(
                [RENTSYNC, "worker", "--concurrency", str(concurrency), *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                # Its bulk lane's process too (it would stop by itself once its parent is gone,
                # gracefully, so perhaps after the test's database was dropped).
                with contextlib.suppress(psutil.Error):
                    for child in psutil.Process(process.pid).children():
                        child.kill()
                process.kill()
                process.wait(10)


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    running = Workers(settings, tmp_path)
    yield running
    running.stop_all()


def defer_pings(url: str, count: int, *, hold_seconds: float = 0) -> list[int]:
    from psycopg_pool import AsyncConnectionPool

    async def run() -> list[int]:
        async with AsyncConnectionPool(url, min_size=1, max_size=2) as pool:
            repo = DiagnosticsRepository(pool)
            return [
                await repo.request(
                    task_name=PING_TASK, queue="diagnostics", hold_seconds=hold_seconds
                )
                for _ in range(count)
            ]

    return _run_in_thread(run)


def _run_in_thread(factory):
    """Run a coroutine to completion from sync code while pytest-asyncio's loop may be running."""
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, factory()).result()


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def query_one(url: str, query: str, *params: object) -> tuple[object, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return tuple(row)


def answers(url: str, query: str, expected: tuple[object, ...], *, timeout: float) -> bool:
    """Whether `query`'s one row becomes `expected` within `timeout` seconds."""
    return wait_until(lambda: query_one(url, query) == expected, timeout=timeout)


DOING = "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"
WORKERS = "SELECT count(*) FROM procrastinate_workers"


@pytest.mark.external_pg
def test_two_worker_processes_share_jobs_and_run_none_twice(
    settings: Settings, workers: Workers
) -> None:
    url = settings.database_url
    assert url
    workers.start()
    workers.start()
    assert answers(url, WORKERS, (2 * LANES_PER_WORKER,), timeout=30)
    ping_ids = defer_pings(url, 200, hold_seconds=0.02)
    assert wait_until(
        lambda: (
            query_one(url, "SELECT count(*) FROM diagnostic_pings WHERE completed_at IS NULL")
            == (0,)
        ),
        timeout=60,
    ), "the two workers did not finish 200 pings within 60 s"
    started_twice = query_one(
        url,
        "SELECT count(*) FROM (SELECT job_id FROM procrastinate_events WHERE type = 'started' "
        "GROUP BY job_id HAVING count(*) > 1) AS t",
    )
    assert started_twice == (0,)
    assert query_one(
        url,
        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s AND status = 'succeeded'",
        PING_TASK,
    ) == (len(ping_ids),)
    (distinct_workers,) = query_one(url, "SELECT count(DISTINCT worker_name) FROM diagnostic_pings")
    assert distinct_workers == 2, "both workers should have taken a share of the jobs"


@pytest.mark.external_pg
def test_a_killed_workers_job_is_taken_over_within_a_minute(
    settings: Settings, workers: Workers
) -> None:
    url = settings.database_url
    assert url
    (ping_id,) = defer_pings(url, 1, hold_seconds=3)
    doomed = workers.start()
    assert answers(url, DOING, (1,), timeout=30)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    killed_at = time.monotonic()
    workers.start()
    assert wait_until(
        lambda: (
            query_one(
                url, "SELECT completed_at IS NOT NULL FROM diagnostic_pings WHERE id = %s", ping_id
            )
            == (True,)
        ),
        timeout=60,
    ), "the stalled job was not requeued and completed within a minute"
    assert time.monotonic() - killed_at < 60


def test_sigterm_lets_the_running_job_finish_then_exits_cleanly(
    settings: Settings, workers: Workers
) -> None:
    _drains_on_sigterm(settings, workers, times=1)


def _drains_on_sigterm(settings: Settings, workers: Workers, *, times: int) -> None:
    """A worker holding a 2 s job gets SIGTERM `times` times, 50 ms apart: the job finishes,
    the worker unregisters and exits 0."""
    url = settings.database_url
    assert url
    (ping_id,) = defer_pings(url, 1, hold_seconds=2)
    # The graceful stop lasts a third of stalled_after (here 4 s): long enough for the 2 s job.
    worker = workers.start(stalled_after_seconds=12)
    assert answers(url, DOING, (1,), timeout=30)
    for n in range(times):
        if n:
            time.sleep(0.05)  # `make` passes it on a moment later
        worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert query_one(
        url, "SELECT completed_at IS NOT NULL FROM diagnostic_pings WHERE id = %s", ping_id
    ) == (True,)
    assert query_one(url, WORKERS) == (0,), "the worker unregistered"


def test_a_sigterm_passed_on_twice_at_once_still_drains_the_worker(
    settings: Settings, workers: Workers
) -> None:
    """A process group's SIGTERM and the same forwarded by `make` (or `timeout`) arrive within
    milliseconds: one request to stop gracefully, not a second one to stop at once."""
    _drains_on_sigterm(settings, workers, times=2)
