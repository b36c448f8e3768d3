"""The bulk lane in a process of its own (`rentsync worker --lanes split`, the default; B9).

One event loop running both lanes shares it with forty bulk jobs and a bulk sync's planning:
procrastinate fetches one job per round trip, so the real-time lane's pace is one over a round
trip on that loop (bench/README.md, issue 13 P3). Here the worker runs its real-time lane and a
child process (`rentsync worker --lanes bulk --supervised`) runs the bulk lane at a lower CPU
priority, so real-time work wins the cores.

The parent keeps the child running: a child that ends on its own (killed, crashed) is started
again after a back-off; one that cannot start at all (a usage or configuration error) stops the
worker loudly. The child never outlives the parent: its stdin is a pipe from the parent, and
when the parent dies (even by SIGKILL) the pipe closes and the child stops gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rentsync.jobs import WorkerRunner

log = logging.getLogger(__name__)

BULK_LANE_NICENESS = 10
"""Added to the bulk lane's process's niceness: on a busy machine the real-time lane (and the
API, and PostgreSQL) get the CPU first; the bulk lane mostly waits for QuickBooks anyway."""
USAGE_ERROR = 2
"""The exit code of a bad flag or setting (typer, `cli._settings`): starting again cannot help."""


class BulkLaneFailed(RuntimeError):
    """The bulk lane's process cannot start (its exit code says a usage or configuration error)."""


class BulkLaneProcess:
    """Runs `rentsync worker --lanes bulk --supervised` until stopped, starting it again whenever
    it ends on its own."""

    def __init__(
        self,
        *,
        bulk_concurrency: int,
        database_url: str,
        stop_timeout: float,
        first_delay: float = 1.0,
        max_delay: float = 30.0,
    ) -> None:
        self._bulk_concurrency = bulk_concurrency
        self._database_url = database_url
        self._stop_timeout = stop_timeout
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._stop = asyncio.Event()
        self._process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        """Times the child was started again after it ended on its own."""

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "rentsync",
            "worker",
            "--lanes",
            "bulk",
            "--bulk-concurrency",
            str(self._bulk_concurrency),
            "--supervised",
        ]

    def stop(self) -> None:
        """Ask the child to stop gracefully (SIGTERM: its running jobs finish or go back to the
        queue); `run` returns once it has, or kills it after `stop_timeout`."""
        if self._stop.is_set():
            return  # a second SIGTERM would stop the child at once, aborting its jobs
        self._stop.set()
        process = self._process
        if process is not None and process.returncode is None:
            process.terminate()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self._first_delay
        while not self._stop.is_set():
            started = loop.time()
            code = await self._run_once()
            if self._stop.is_set():
                return
            if code == USAGE_ERROR:
                raise BulkLaneFailed(
                    f"the bulk lane's process could not start (exit code {code}); see its "
                    "message above"
                )
            self.restarts += 1
            log.error(
                "the bulk lane's process ended on its own; starting it again",
                extra={
                    "action": "jobs.bulk_lane.ended",
                    "returncode": code,
                    "restarts": self.restarts,
                    "delay_seconds": delay,
                },
            )
            if loop.time() - started > 60:
                delay = self._first_delay  # it ran well for a while: not a crash loop
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
            delay = min(delay * 2, self._max_delay)

    async def _run_once(self) -> int:
        process = await asyncio.create_subprocess_exec(
            *self.command(),
            stdin=asyncio.subprocess.PIPE,
            # The parent's database, also when it is the embedded server this process keeps up
            # (the child, at a lower priority, must never be the one to start it again).
            env={**os.environ, "DATABASE_URL": self._database_url},
            # Its own session: a Ctrl-C in the terminal reaches the parent only, which then
            # stops the child once (a second signal would stop it at once).
            start_new_session=True,
        )
        self._process = process
        log.info(
            "bulk lane process started",
            extra={"action": "jobs.bulk_lane.started", "pid": process.pid},
        )
        ended = asyncio.ensure_future(process.wait())
        try:
            if self._stop.is_set():
                process.terminate()
            stopping = asyncio.ensure_future(self._stop.wait())
            try:
                await asyncio.wait({ended, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
            if not ended.done():
                await self._wait_or_kill(process, ended)
            return ended.result()
        except asyncio.CancelledError:
            # In-process stop (`rentsync serve`): the same graceful stop, then go on cancelling.
            self.stop()
            await self._wait_or_kill(process, ended)
            raise

    async def _wait_or_kill(
        self, process: asyncio.subprocess.Process, ended: asyncio.Future[int]
    ) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(ended), timeout=self._stop_timeout)
        except TimeoutError:
            log.error(
                "the bulk lane's process did not stop within its graceful stop; killing it "
                "(the stalled-job reaper hands its jobs back)",
                extra={"action": "jobs.bulk_lane.killed", "pid": process.pid},
            )
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await ended


async def run_beside(
    runner: WorkerRunner, bulk: BulkLaneProcess, *, handle_signals: bool = True
) -> None:
    """Run the real-time lane (`runner`) here and the bulk lane's process beside it until
    stopped (SIGTERM/SIGINT with `handle_signals`, or cancellation): both stop gracefully. A
    bulk lane that cannot start stops the real-time lane too and raises `BulkLaneFailed`."""
    runner.also_stop(bulk.stop)
    real_time = asyncio.create_task(
        runner.run(handle_signals=handle_signals), name="real-time lane"
    )
    child = asyncio.create_task(bulk.run(), name="bulk lane process")
    try:
        await asyncio.wait({real_time, child}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        real_time.cancel()
        child.cancel()
        await asyncio.gather(real_time, child, return_exceptions=True)
        raise
    if child.done():
        runner.stop()
    else:
        bulk.stop()
    await asyncio.gather(real_time, child, return_exceptions=True)
    for task in (child, real_time):
        error = task.exception()
        if error is not None:
            raise error


def stop_when_parent_dies(runner: WorkerRunner) -> None:
    """In a supervised child: stop gracefully once stdin (a pipe from the parent) closes, which
    happens when the parent ends, however it ends."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()

    def readable() -> None:
        if os.read(fd, 4096):
            return  # the parent never writes; ignore whatever arrives
        loop.remove_reader(fd)
        log.warning(
            "the supervising worker process is gone; stopping",
            extra={"action": "jobs.bulk_lane.orphaned"},
        )
        runner.stop()

    loop.add_reader(fd, readable)
