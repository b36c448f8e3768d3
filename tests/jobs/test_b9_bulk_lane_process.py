"""B9: `rentsync worker` runs its bulk lane in a child process of its own (`--lanes split`, the
default), at a lower CPU priority, kept running by the parent and never outliving it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from typing import Any

import psutil
import pytest
from psycopg_pool import AsyncConnectionPool

from rentsync.jobs import BULK_LANE, REAL_TIME_LANE
from rentsync.lane_process import BULK_LANE_NICENESS, BulkLaneFailed, BulkLaneProcess
from rentsync.settings import Settings
from rentsync.store.diagnostics import DiagnosticsRepository
from tests.chaos.processes import free_port
from tests.jobs.test_workers import (
    DOING,
    PING_TASK,
    RENTSYNC,
    WORKERS,
    Workers,
    _run_in_thread,
    answers,
    query_one,
    wait_until,
)


@pytest.fixture
def workers(settings: Settings, tmp_path) -> Workers:  # type: ignore[no-untyped-def]
    running = Workers(settings, tmp_path)
    yield running
    running.stop_all()


def ping(url: str, queue: str, *, hold_seconds: float = 0) -> int:
    async def run() -> int:
        async with AsyncConnectionPool(url, min_size=1, max_size=1) as pool:
            return await DiagnosticsRepository(pool).request(
                task_name=PING_TASK, queue=queue, hold_seconds=hold_seconds
            )

    ping_id: int = _run_in_thread(run)
    return ping_id


def done_by(url: str, ping_id: int) -> str | None:
    (name,) = query_one(url, "SELECT worker_name FROM diagnostic_pings WHERE id = %s", ping_id)
    return name if isinstance(name, str) else None


def bulk_child(parent: int) -> psutil.Process | None:
    children = psutil.Process(parent).children()
    return children[0] if len(children) == 1 else None


def started(
    workers: Workers, **options: Any
) -> tuple[str, subprocess.Popen[bytes], psutil.Process | None]:
    """The database, a worker process once both its lanes are registered, and its bulk lane's
    process."""
    url = workers.settings.database_url
    assert url
    parent = workers.start(**options)
    assert answers(url, WORKERS, (2,), timeout=60)
    return url, parent, bulk_child(parent.pid)


def test_b9_worker_runs_its_bulk_lane_in_a_child_process_at_a_lower_priority(
    settings: Settings, workers: Workers
) -> None:
    url, parent, child = started(workers)
    assert child is not None
    assert "--lanes" in child.cmdline() and "bulk" in child.cmdline()
    assert child.nice() == psutil.Process(parent.pid).nice() + BULK_LANE_NICENESS
    real_time = ping(url, REAL_TIME_LANE[1])
    bulk = ping(url, BULK_LANE[0])
    assert wait_until(lambda: done_by(url, bulk) is not None, timeout=30)
    assert wait_until(lambda: done_by(url, real_time) is not None, timeout=30)
    assert done_by(url, bulk) == f"{os.uname().nodename}:{child.pid}:bulk"
    assert done_by(url, real_time) == f"{os.uname().nodename}:{parent.pid}"


def test_b9_a_killed_bulk_lane_process_is_started_again(
    settings: Settings, workers: Workers
) -> None:
    url, parent, first = started(workers)
    assert first is not None
    first.kill()
    first.wait(10)

    def another() -> bool:
        child = bulk_child(parent.pid)
        return child is not None and child.pid != first.pid

    assert wait_until(another, timeout=30), "the bulk lane's process was not started again"
    bulk = ping(url, BULK_LANE[0])
    assert wait_until(lambda: done_by(url, bulk) is not None, timeout=30)
    replacement = bulk_child(parent.pid)
    assert replacement is not None
    assert done_by(url, bulk) == f"{os.uname().nodename}:{replacement.pid}:bulk"
    assert parent.poll() is None


def test_b9_sigterm_lets_both_lanes_finish_their_jobs_then_exits(
    settings: Settings, workers: Workers
) -> None:
    # The graceful stop lasts a third of stalled_after (here 4 s): long enough for 2 s jobs.
    url, parent, child = started(workers, stalled_after_seconds=12)
    assert child is not None
    pings = [ping(url, REAL_TIME_LANE[1], hold_seconds=2), ping(url, BULK_LANE[0], hold_seconds=2)]
    assert answers(url, DOING, (2,), timeout=30)
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(30) == 0
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert all(done_by(url, ping_id) is not None for ping_id in pings), "a job did not finish"
    assert query_one(url, WORKERS) == (0,)


def test_b9_the_bulk_lane_process_stops_when_its_parent_is_killed(
    settings: Settings, workers: Workers
) -> None:
    url, parent, child = started(workers)
    assert child is not None
    parent.kill()
    parent.wait(10)
    # Its stdin (a pipe from the parent) closes: it stops gracefully and unregisters (the
    # parent's row stays until the reaper prunes it).
    child.wait(30)
    assert query_one(url, WORKERS) == (1,)


def test_b9_both_lanes_in_one_process_on_request(settings: Settings, workers: Workers) -> None:
    url, parent, child = started(workers, args=("--lanes", "both"))
    assert child is None and psutil.Process(parent.pid).children() == []
    bulk = ping(url, BULK_LANE[0])
    assert wait_until(lambda: done_by(url, bulk) is not None, timeout=30)
    assert done_by(url, bulk) == f"{os.uname().nodename}:{parent.pid}:bulk"


class _FailsToStart(BulkLaneProcess):
    def command(self) -> list[str]:
        # What a bad flag or setting does to `rentsync worker`: exit code 2.
        return [sys.executable, "-c", "raise SystemExit(2)"]


async def test_b9_a_bulk_lane_process_that_cannot_start_stops_the_worker_loudly() -> None:
    bulk = _FailsToStart(bulk_concurrency=1, database_url="postgresql://unused", stop_timeout=5)
    with pytest.raises(BulkLaneFailed, match="could not start"):
        await asyncio.wait_for(bulk.run(), timeout=30)
    assert bulk.restarts == 0


def test_b9_serve_runs_its_workers_bulk_lane_in_a_child_process_too(
    settings: Settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    url = settings.database_url
    assert url
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "RENTSYNC_DATA_DIR": str(tmp_path / "data"),
        "RENTSYNC_PORT": str(port),
        "RENTSYNC_STALLED_AFTER_SECONDS": "6",
    }
    with (tmp_path / "serve.log").open("wb") as log:
        serve = subprocess.Popen([RENTSYNC, "serve"], env=env, stdout=log, stderr=log)
    try:

        def health() -> dict[str, Any]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    body: dict[str, Any] = json.load(r)
                    return body
            except OSError:
                return {}

        assert wait_until(
            lambda: health().get("worker", {}).get("live_workers") == 2, timeout=60
        ), (tmp_path / "serve.log").read_text()[-2000:]
        assert health()["status"] == "ok"
        assert health()["worker"]["bulk_lane_process"] == {"running": True, "restarts": 0}
        child = bulk_child(serve.pid)
        assert child is not None and "bulk" in child.cmdline()
        # /health tells when the bulk lane's process was killed and started again.
        (before,) = query_one(url, "SELECT array_agg(id) FROM procrastinate_workers")
        child.kill()
        assert wait_until(
            lambda: (
                health().get("worker", {}).get("bulk_lane_process")
                == {"running": True, "restarts": 1}
            ),
            timeout=30,
        ), health()
        child = bulk_child(serve.pid)
        assert child is not None and "bulk" in child.cmdline()
        serve.send_signal(signal.SIGTERM)
        # uvicorn signals itself again with SIGTERM once it has shut down gracefully.
        assert serve.wait(40) in (0, -signal.SIGTERM)
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
        # Only the killed lane's row is left (its jobs go to others once it is stalled).
        (left,) = query_one(url, "SELECT coalesce(array_agg(id), '{}') FROM procrastinate_workers")
        assert isinstance(before, list) and isinstance(left, list)
        assert len(left) <= 1 and set(left) <= set(before)
    finally:
        if serve.poll() is None:
            for leftover in psutil.Process(serve.pid).children():
                leftover.kill()
            serve.kill()
            serve.wait(10)
