"""The job queue: procrastinate tasks, thin; the work itself lives in the services they call.

A job carries only keys; whatever it needs is read from the database when it runs, so a
crash between "stored" and "done" loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate import job_context
from procrastinate import worker as procrastinate_worker
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, QueueJob
from rentsync.store.documents import BULK_SYNC_QUEUE, GROUP_TASK, SYNC_QUEUE, SYNC_TASK
from rentsync.store.job_groups import JobGroups, Member
from rentsync.sync.failures import RetryLater

if TYPE_CHECKING:
    from rentsync.bootstrap import Services

log = logging.getLogger(__name__)

DIAGNOSTICS_QUEUE = "diagnostics"
DIAGNOSTICS_LOCK = "diagnostics"
"""Every ping the API queues takes this lock: pings run one at a time, so they hold at most one
worker slot however many are queued, and sync jobs keep the others."""
DIAGNOSTICS_PRIORITY = -10
"""Below sync jobs (0): a worker with a free slot takes waiting sync jobs first."""
MAINTENANCE_QUEUE = "maintenance"
SERVICES_KEY = "services"
QUEUE_JOB_KEY = "queue_job"
"""A sync job's `QueueJob` in its context: whether the outcome's statement already ended it."""
LANE_SLOTS_KEY = "lane_slots"
"""The lane's slots (procrastinate's semaphore of its worker) in a job's context: a group job's
members take them as their own jobs would."""

blueprint = procrastinate.Blueprint()


def services_of(context: procrastinate.JobContext) -> Services:
    services: Services = context.additional_context[SERVICES_KEY]
    return services


@blueprint.task(name="rentsync.diagnostic_ping", queue=DIAGNOSTICS_QUEUE, pass_context=True)
async def diagnostic_ping(
    context: procrastinate.JobContext, ping_id: int, hold_seconds: float = 0
) -> None:
    if hold_seconds:
        # Lets an operator watch a job in flight (graceful shutdown, stalled-worker recovery).
        await asyncio.sleep(hold_seconds)
    await services_of(context).diagnostics.complete(ping_id, worker_name=context.worker_name)


class SyncRetryStrategy(procrastinate.BaseRetryStrategy):
    """The reconciler decides (from the pure retry table) and says so with RetryLater; any other
    exception is unexpected (e.g. the database went away) and gets a few spaced retries."""

    unexpected_max_attempts = 5

    def get_retry_decision(
        self, *, exception: BaseException, job: procrastinate.jobs.Job
    ) -> procrastinate.RetryDecision | None:
        retry_at = self.retry_at(exception, attempts=job.attempts)
        return None if retry_at is None else procrastinate.RetryDecision(retry_at=retry_at)

    def retry_at(self, exception: BaseException, *, attempts: int) -> datetime | None:
        """When the job runs again (None: it has failed for good)."""
        if isinstance(exception, RetryLater):
            return datetime.now(UTC) + timedelta(seconds=exception.seconds)
        if attempts >= self.unexpected_max_attempts:
            return None
        return datetime.now(UTC) + timedelta(seconds=2 ** (attempts + 2))


@blueprint.task(
    name=SYNC_TASK,
    queue=SYNC_QUEUE,
    pass_context=True,
    retry=SyncRetryStrategy(),
)
async def sync_document(
    context: procrastinate.JobContext, company_id: int, doc_type: str, source_id: str
) -> str:
    """Make QuickBooks match one document's newest snapshot (the job carries only its key)."""
    key = DocumentKey(company_id, DocumentType(doc_type), source_id)
    job = QueueJob(id=_job_id(context))
    # The statement recording the outcome may end the job itself (`_Worker._persist_job_status`).
    context.additional_context[QUEUE_JOB_KEY] = job
    try:
        return await services_of(context).reconciler.reconcile(key, job=job)
    except RetryLater:
        raise
    except Exception:
        # Not a QBO or data problem (those are recorded on the document): a fault of ours or of
        # the database. Logged with its traceback; the job is retried a few times.
        log.exception(
            "sync job crashed",
            extra={"action": "sync.crashed", "doc_key": key.lock(), "job_id": context.job.id},
        )
        raise


@blueprint.task(
    name=GROUP_TASK,
    queue=BULK_SYNC_QUEUE,
    pass_context=True,
    retry=procrastinate.RetryStrategy(max_attempts=5, wait=1),
)
async def sync_group(context: procrastinate.JobContext, job_ids: list[int]) -> str:
    """Run a bulk sync's member jobs together (issue 13, P4): one job fetched for the group;
    the members claimed in one statement, each reconciled as its own job would be."""
    slots = context.additional_context.get(LANE_SLOTS_KEY)
    run = _GroupRun(
        groups=JobGroups(services_of(context).pool),
        services=services_of(context),
        manager=context.app.job_manager,
        group_job_id=_job_id(context),
        slots=slots() if callable(slots) else None,
    )
    return await run.run(job_ids)


class _GroupRun:
    """A group job's run: claim what may run, reconcile it concurrently, claim again (an
    order's payments once the order ended) until nothing more can be claimed; the members
    left are released to the lane as ordinary jobs.

    Each member is what its own job would be: its `QueueJob` (the outcome's statement may end
    it), RetryLater putting its job back at the retry table's time, any other exception
    retried as `SyncRetryStrategy` says. Members beyond the first take one of the lane's slots
    each (the group's own slot runs the first), so a group never runs more reconciliations
    than jobs would (each may hold database connections) and always makes progress. Stopped
    (the worker's shutdown cancels the group), its running members go back to the queue; a
    worker killed leaves them to the stalled-job reaper."""

    def __init__(
        self,
        *,
        groups: JobGroups,
        services: Services,
        manager: procrastinate.manager.JobManager,
        group_job_id: int,
        slots: asyncio.Semaphore | None,
    ) -> None:
        self._groups = groups
        self._services = services
        self._manager = manager
        self._group_job_id = group_job_id
        self._slots = slots
        self._running: set[int] = set()
        self._strategy = SyncRetryStrategy()

    async def run(self, job_ids: Sequence[int]) -> str:
        waiting = list(job_ids)
        ran = 0
        try:
            while waiting:
                claimed = await self._groups.claim(self._group_job_id, waiting)
                if not claimed:
                    break
                taken = {member.job_id for member in claimed}
                waiting = [job_id for job_id in waiting if job_id not in taken]
                self._running |= taken
                # Every member to its end before anything else: one failing must not leave
                # the others running while the group puts them back.
                ended = await asyncio.gather(
                    *(self._member(member, first=n == 0) for n, member in enumerate(claimed)),
                    return_exceptions=True,
                )
                ran += len(claimed)
                for result in ended:
                    if isinstance(result, BaseException):
                        raise result
        except BaseException:
            # Cancelled (a stop) or the database failed: members not ended go back now; if
            # that fails too, the reaper hands them back once the heartbeat is old.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._groups.put_back(sorted(self._running)))
            with contextlib.suppress(Exception):
                await asyncio.shield(self._groups.release(waiting))
            raise
        released = await self._groups.release(waiting)
        return f"{ran} run, {released} released"

    async def _member(self, member: Member, *, first: bool) -> None:
        if first or self._slots is None:
            await self._reconcile(member)
            return
        async with self._slots:
            await self._reconcile(member)

    async def _reconcile(self, member: Member) -> None:
        job = QueueJob(id=member.job_id)
        try:
            await self._services.reconciler.reconcile(member.key, job=job)
        except Exception as exc:
            if not isinstance(exc, RetryLater):
                log.exception(
                    "sync job crashed",
                    extra={
                        "action": "sync.crashed",
                        "doc_key": member.key.lock(),
                        "job_id": member.job_id,
                    },
                )
            retry_at = self._strategy.retry_at(exc, attempts=member.attempts)
            if retry_at is not None:
                await self._manager.retry_job_by_id_async(member.job_id, retry_at=retry_at)
            else:
                await self._manager.finish_job_by_id_async(
                    member.job_id, status=procrastinate.jobs.Status.FAILED, delete_job=False
                )
        else:
            if not job.ended:
                await self._manager.finish_job_by_id_async(
                    member.job_id, status=procrastinate.jobs.Status.SUCCEEDED, delete_job=False
                )
        self._running.discard(member.job_id)


def _job_id(context: procrastinate.JobContext) -> int:
    job_id = context.job.id
    assert job_id is not None  # a fetched job always has one
    return job_id


BULK_QUEUE = "bulk"
BULK_TASK = "rentsync.bulk_sync"


@blueprint.task(name=BULK_TASK, queue=BULK_QUEUE, pass_context=True)
async def bulk_sync(context: procrastinate.JobContext, bulk_id: int) -> None:
    """Preview, then run, one bulk sync, step by step (R18; `sync.bulk`). Only one such loop
    runs per bulk sync; any other job for it returns at once."""
    await services_of(context).bulk_syncs.run(bulk_id)


# Every 15 s: a bulk sync whose loop died with its worker (or the database) goes on from its
# cursor; for the others the job returns at once.
@blueprint.periodic(cron="* * * * * */15")
@blueprint.task(name="rentsync.resume_bulk_syncs", queue=MAINTENANCE_QUEUE, pass_context=True)
async def resume_bulk_syncs(context: procrastinate.JobContext, timestamp: int) -> None:
    for bulk_id in await services_of(context).bulk_syncs.repository.active():
        await defer_bulk_sync(context.app, bulk_id)


async def defer_bulk_sync(app: procrastinate.App, bulk_id: int) -> None:
    await app.configure_task(BULK_TASK).defer_async(bulk_id=bulk_id)


# Every 15 s (croniter's optional sixth field is seconds). A worker killed mid-job leaves the job
# "doing" and holding its lock; once its heartbeat is older than the threshold the job is
# handed back to the queue, so nothing behind that lock stays blocked for long.
@blueprint.periodic(cron="* * * * * */15")
@blueprint.task(name="rentsync.reap_stalled_jobs", queue=MAINTENANCE_QUEUE, pass_context=True)
async def reap_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    threshold = services_of(context).settings.stalled_after_seconds
    await requeue_stalled_jobs(context.app, seconds_since_heartbeat=threshold)
    # procrastinate prunes dead workers' rows only when a worker starts; a row left by a
    # process that died (SIGKILL, or the database went away under it) goes now.
    await context.app.job_manager.prune_stalled_workers(threshold)


async def requeue_stalled_jobs(app: procrastinate.App, *, seconds_since_heartbeat: float) -> int:
    manager = app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat))
    requeued = 0
    for job in stalled:
        log.warning(
            "requeueing a job whose worker stopped sending heartbeats",
            extra={"action": "jobs.requeue_stalled", "job_id": job.id, "task": job.task_name},
        )
        try:
            await manager.retry_job(job)
        except procrastinate.exceptions.ConnectorException as exc:
            if not isinstance(exc.__cause__, pg_errors.RaiseException):
                raise
            # procrastinate refuses a job no longer "doing": another process requeued it first.
            continue
        requeued += 1
    return requeued


# Daily: the QuickBooks request log is kept RENTSYNC_QBO_LOG_RETENTION_DAYS days (R16).
@blueprint.periodic(cron="17 3 * * *")
@blueprint.task(name="rentsync.purge_qbo_log", queue=MAINTENANCE_QUEUE, pass_context=True)
async def purge_qbo_log(context: procrastinate.JobContext, timestamp: int) -> None:
    services = services_of(context)
    removed = await services.qbo_log.purge(older_than_days=services.settings.qbo_log_retention_days)
    log.info(
        "QuickBooks log purged",
        extra={"action": "qbo.log.purged", "removed": removed},
    )


def create_job_app() -> procrastinate.App:
    """The procrastinate app; opened on the shared pool by `bootstrap`."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector())
    app.add_tasks_from(blueprint, namespace="")
    return app


async def open_job_app(app: procrastinate.App, pool: AsyncConnectionPool) -> None:
    await app.open_async(pool)


REAL_TIME_LANE = (SYNC_QUEUE, DIAGNOSTICS_QUEUE, MAINTENANCE_QUEUE)
"""The queues of the real-time lane (`RENTSYNC_WORKER_CONCURRENCY` slots)."""
BULK_LANE = (BULK_SYNC_QUEUE, BULK_QUEUE)
"""The queues of the bulk lane (`RENTSYNC_BULK_CONCURRENCY` slots): a bulk sync's own loop and
the sync jobs it defers. Real-time jobs never wait behind them for a slot (B9)."""


LANES_PER_WORKER = 2
"""procrastinate workers (rows in procrastinate_workers) a worker runs: one per lane, whether
both lanes run in one process or the bulk lane in a child process of its own."""


class Lanes(StrEnum):
    """Which lanes a worker process runs (`rentsync worker --lanes`)."""

    SPLIT = "split"
    """The real-time lane here and the bulk lane in a child process this one starts and
    supervises, at a lower CPU priority (`lane_process`): a bulk sync's work never shares the
    real-time lane's event loop, and real-time work wins the CPU (B9). The default."""
    BOTH = "both"
    """Both lanes in this process, on one event loop."""
    REALTIME = "realtime"
    BULK = "bulk"

    def here(self) -> tuple[bool, bool]:
        """(real-time lane, bulk lane) run in this process."""
        return (self is not Lanes.BULK, self in (Lanes.BOTH, Lanes.BULK))


def worker_lanes(
    services: Services, *, concurrency: int, bulk_concurrency: int, lanes: Lanes = Lanes.BOTH
) -> list[dict[str, Any]]:
    """The procrastinate workers this process runs side by side: the real-time lane and/or the
    bulk lane (+1 slot for a bulk sync's loop, which waits for its jobs)."""
    real_time, bulk = lanes.here()
    options = []
    if real_time:
        options.append(worker_options(services, concurrency=concurrency, queues=REAL_TIME_LANE))
    if bulk:
        options.append(
            worker_options(
                services, concurrency=bulk_concurrency + 1, queues=BULK_LANE, lane="bulk"
            )
        )
    return options


def worker_options(
    services: Services,
    *,
    concurrency: int,
    queues: Sequence[str] | None = None,
    lane: str | None = None,
) -> dict[str, Any]:
    settings = services.settings
    name = f"{socket.gethostname()}:{os.getpid()}"
    return {
        "name": f"{name}:{lane}" if lane else name,
        "concurrency": concurrency,
        "queues": list(queues) if queues is not None else None,
        "additional_context": {SERVICES_KEY: services},
        # `WorkerRunner` handles SIGTERM/SIGINT itself: they must stop it between two runs too.
        "install_signal_handlers": False,
        # New jobs arrive by LISTEN/NOTIFY at once; a retry scheduled for later is only seen by
        # polling, so poll often enough for R15's "again in about 10 s" to hold.
        "fetch_job_polling_interval": 1.0,
        # A job still running this long after a stop request is aborted and retried later. The
        # heartbeat stops while a worker stops, so this stays well below the point where other
        # workers take its jobs over (heartbeat interval + this < stalled_after_seconds): a job
        # finishing its graceful stop never runs beside its requeued copy.
        "shutdown_graceful_timeout": min(30.0, settings.stalled_after_seconds / 3),
        "update_heartbeat_interval": max(1.0, settings.stalled_after_seconds / 3),
        "stalled_worker_timeout": float(settings.stalled_after_seconds),
    }


class WorkerState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


FETCH_LOOPS = 2
"""Fetches a worker lane runs at once (`_Worker._fetch_and_process_jobs`)."""

ABORT_AGAIN_SECONDS = 1.0
ABORT_ATTEMPTS = 10


class _Worker(procrastinate_worker.Worker):
    """procrastinate's worker, noting when it begins to stop: on request, or on its own because
    the database went away (a side task such as the heartbeat or LISTEN failed, or fetching a
    job raised).

    Only a requested stop lets running jobs finish. A stop on its own aborts them at once: their
    advisory locks died with the database session, and their rows go back to the queue as soon
    as the database is back, so a job that went on would write to QBO beside its requeued copy.
    The answer it was waiting for is lost, which the sync already handles (requestids, write
    intents)."""

    stopping = False
    _notified = False

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._graceful_timeout = self.shutdown_graceful_timeout
        self.shutdown_graceful_timeout = 0.0
        # procrastinate makes a new semaphore at each run: a group job asks for the current one.
        self.additional_context = {
            **(self.additional_context or {}),
            LANE_SLOTS_KEY: lambda: self._job_semaphore,
        }

    async def _handle_notification(self, *, channel: str, notification: Any) -> None:
        if notification.get("type") == "job_inserted":
            self._notified = True
        await super()._handle_notification(channel=channel, notification=notification)

    async def _fetch_and_process_jobs(self) -> None:
        """procrastinate's fetch loop, again while a new job was announced during it (B9).

        procrastinate forgets every announcement after each fetch, also one that arrived while a
        fetch was running that began before the job was committed and so found nothing: that job
        then waited for the next poll (`fetch_job_polling_interval`, 1 s), about one real-time
        job in a hundred at 20 a second. Fetching once more finds it at once.

        `FETCH_LOOPS` of procrastinate's loops run side by side (issue 13, P4): each fetches one
        job at a time (a round trip of 3-10 ms under load), which alone capped a lane at about
        270 jobs a second while its slots waited. They share the lane's slots (procrastinate's
        semaphore: never more jobs than `concurrency`), and each fetch takes a job no other
        fetch can (procrastinate's fetch: FOR UPDATE SKIP LOCKED, one lock's jobs in order)."""
        while True:
            self._notified = False
            loops = max(1, min(FETCH_LOOPS, self.concurrency))
            # Each loop runs to its own end (no job left, a stop, an error): none is cancelled
            # halfway through a fetch, which could leave a job taken and not run.
            runs = [self._one_fetch_loop() for _ in range(loops)]
            ended = await asyncio.gather(*runs, return_exceptions=True)
            for result in ended:
                if isinstance(result, BaseException):
                    raise result
            if not self._notified or self._stop_event.is_set():
                return

    async def _one_fetch_loop(self) -> None:
        """One of procrastinate's fetch loops. One that fails stops the worker (on its own: the
        error is the database's, most likely): the others then end after their current fetch,
        where, under a steady stream of jobs, they would fetch on and the worker would never
        end (the failed loop's error is raised once every loop has ended)."""
        try:
            await super()._fetch_and_process_jobs()  # type: ignore[no-untyped-call]
        except Exception:
            self.stop()
            raise

    async def _persist_job_status(
        self,
        job: procrastinate.jobs.Job,
        status: procrastinate.jobs.Status,
        retry_decision: procrastinate.RetryDecision | None,
        context: procrastinate.JobContext,
        job_result: job_context.JobResult | None,
    ) -> None:
        """procrastinate's end of a job, unless the statement that recorded the sync's outcome
        ended it already (`store.ledger.LedgerRepository.record`, issue 13 P4): ending it
        again would fail, as it is no longer running; its outcome is recorded whatever happened
        to the task after that statement."""
        queue_job = context.additional_context.get(QUEUE_JOB_KEY)
        if isinstance(queue_job, QueueJob) and queue_job.ended:
            self._job_ids_to_abort.pop(queue_job.id, None)
            return
        await super()._persist_job_status(
            job=job,
            status=status,
            retry_decision=retry_decision,
            context=context,
            job_result=job_result,
        )

    async def _abort_running_jobs(self) -> None:
        """Cancel the running jobs, again every `ABORT_AGAIN_SECONDS` until they end.

        procrastinate cancels each job once and then waits for all of them without end. A job
        can lose that cancellation: on Python 3.11 `asyncio.wait_for` returns its result and
        drops a cancellation that arrives as its awaitable finishes (cpython gh-86296), which
        psycopg_pool's wait for a connection does (`pool.connection()` under contention). A bulk
        sync's loop that lost it polls on for the whole run, so the lane never ended: a test's
        teardown hung with the in-process worker's lanes cancelled. Each new cancellation gets
        its own chance; a job still running after `ABORT_ATTEMPTS` is logged and left (the
        stalled-job reaper hands it back)."""
        for _ in range(ABORT_ATTEMPTS):
            if not self._running_jobs:
                return
            for task, context in list(self._running_jobs.items()):
                self._abort_job(task, context, job_context.AbortReason.SHUTDOWN)
            await asyncio.wait(list(self._running_jobs), timeout=ABORT_AGAIN_SECONDS)
        if self._running_jobs:
            log.error(
                "a job did not end when cancelled; leaving it",
                extra={
                    "action": "jobs.worker.job_ignored_cancel",
                    "job_ids": [context.job.id for context in self._running_jobs.values()],
                },
            )

    def request_stop(self) -> None:
        self.shutdown_graceful_timeout = self._graceful_timeout
        self.stop()

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: called from another thread
            if asyncio.current_task() is self.run_task:
                # worker.run() itself was cancelled: the in-process graceful stop.
                self.shutdown_graceful_timeout = self._graceful_timeout
        self.stopping = True
        super().stop()  # type: ignore[no-untyped-call]  # procrastinate leaves it unannotated


class WorkerRunner:
    """Runs procrastinate workers (one per lane, `worker_lanes`, side by side in this process)
    until asked to stop, and again whenever one stops on its own.

    procrastinate's worker ends when the database goes away: its heartbeat or its LISTEN
    connection fails and it stops, or fetching a job raises. The runner then waits (backing off
    from `first_delay` to `max_delay`) until `probe` reaches the database, removes the rows the
    dead run left (its worker row; its unfinished jobs are handed back to the queue), and starts
    a new run: the process goes on without a restart. When one lane's worker stops on its own,
    the others are stopped too (aborting their jobs: the database is gone for them as well) and
    every lane starts again together.
    """

    def __init__(
        self,
        app: procrastinate.App,
        lanes: Sequence[dict[str, Any]],
        *,
        probe: Callable[[], Awaitable[None]],
        first_delay: float = 0.5,
        max_delay: float = 10.0,
    ) -> None:
        self._app = app
        self._lanes = list(lanes)
        self._probe = probe
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._workers: list[_Worker] = []
        self._stale_worker_ids: set[int] = set()
        self._stop_requested = False
        self._signalled = False
        self._repeat_window: asyncio.TimerHandle | None = None
        self._wake = asyncio.Event()
        self._reconnecting = False
        self._finished = False
        self._also_stop: list[Callable[[], None]] = []
        self.restarts = 0
        """Runs started again after the worker stopped on its own."""
        self.last_error: str | None = None

    @property
    def state(self) -> WorkerState:
        workers = self._workers
        if self._finished:
            return WorkerState.STOPPED
        if self._reconnecting:
            return WorkerState.RECONNECTING
        if not workers or any(worker.worker_id is None for worker in workers):
            return WorkerState.STARTING
        if any(worker.stopping for worker in workers) or self._stop_requested:
            return WorkerState.STOPPING
        return WorkerState.RUNNING

    @property
    def worker_id(self) -> int | None:
        """The current run's row in procrastinate_workers (None while not registered): the
        first lane's (real-time)."""
        return self._workers[0].worker_id if self._workers else None

    @property
    def worker_ids(self) -> list[int | None]:
        """Every lane's row in procrastinate_workers."""
        return [worker.worker_id for worker in self._workers]

    def _stopping(self) -> bool:
        return self._stop_requested

    def stop(self) -> None:
        """Stop gracefully: no new jobs, running ones finish (up to the graceful timeout)."""
        self._stop_requested = True
        self._wake.set()
        for worker in self._workers:
            worker.request_stop()
        for stop in self._also_stop:
            stop()

    def also_stop(self, stop: Callable[[], None]) -> None:
        """Call `stop` too when this worker is asked to stop (the bulk lane's process)."""
        self._also_stop.append(stop)

    async def run(self, *, handle_signals: bool) -> None:
        """Until `stop()`, cancellation (in-process: a graceful stop too) or, with
        `handle_signals`, SIGTERM/SIGINT."""
        loop = asyncio.get_running_loop()
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            await self._supervise()
        except asyncio.CancelledError:
            self._stop_requested = True
            raise
        finally:
            if handle_signals:
                if self._repeat_window is not None:
                    self._repeat_window.cancel()  # the handlers below are this run's to remove
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)
            self._finished = True

    def _on_signal(self, signum: int) -> None:
        # A later signal gets the default behaviour (stop at once), as with procrastinate's own;
        # one repeated within `REPEATED_SIGNAL_SECONDS` is the same request passed on twice (a
        # process group's SIGTERM and `make` forwarding it), which must not abort the drain.
        if self._signalled:
            return
        self._signalled = True
        loop = asyncio.get_running_loop()
        self._repeat_window = loop.call_later(REPEATED_SIGNAL_SECONDS, _default_signals, loop)
        log.info(
            "stop requested",
            extra={"action": "jobs.worker.stop_requested", "signal": signal.Signals(signum).name},
        )
        self.stop()

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self._first_delay
        while not self._stopping():
            workers = [_Worker(app=self._app, **options) for options in self._lanes]
            self._workers = workers
            started = loop.time()
            error = await self._run_lanes(workers)
            for worker in workers:
                if worker.worker_id is not None:
                    # It could not unregister (the database was away): remove its row once back.
                    self._stale_worker_ids.add(worker.worker_id)
            if self._stopping():
                if error is not None:
                    log.warning(
                        "the worker did not stop cleanly",
                        extra={"action": "jobs.worker.unclean_stop", "error": _describe(error)},
                    )
                return
            self.restarts += 1
            self.last_error = _describe(error) if error else "the worker stopped on its own"
            log.warning(
                "the worker stopped (the database went away?); reconnecting",
                extra={
                    "action": "jobs.worker.stopped",
                    "error": self.last_error,
                    "restarts": self.restarts,
                },
            )
            if loop.time() - started > 60:
                delay = self._first_delay  # it ran well for a while: not one long outage
            self._reconnecting = True
            try:
                delay = await self._reconnect(delay)
            finally:
                self._reconnecting = False
            if not self._stopping():
                log.info(
                    "database reachable again; starting the worker",
                    extra={"action": "jobs.worker.reconnected", "restarts": self.restarts},
                )

    async def _run_lanes(self, workers: list[_Worker]) -> Exception | None:
        """Run every lane's worker until one ends; then end the others (graceful on a requested
        stop, aborting their jobs when one stopped on its own). Returns the first error."""
        runs = [
            asyncio.create_task(worker.run(), name=f"worker {worker.worker_name}")  # type: ignore[no-untyped-call]
            for worker in workers
        ]
        try:
            await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # In-process graceful stop: each worker's run, cancelled, lets its jobs finish.
            for run in runs:
                run.cancel()
            # Bounded: a lane that does not end within its graceful stop (seen once in a test's
            # teardown, cause not found) must not hold the process's shutdown forever; its jobs
            # are requeued by the stalled-job reaper like a killed worker's.
            graceful = max(
                float(lane.get("shutdown_graceful_timeout") or 30.0) for lane in self._lanes
            )
            _, stuck = await asyncio.wait(runs, timeout=graceful + 5)
            if stuck:
                log.warning(
                    "a worker lane did not stop within its graceful stop; leaving it",
                    extra={"action": "jobs.worker.stop_timeout", "lanes": len(stuck)},
                )
            raise
        for worker in workers:
            worker.stop()  # graceful after request_stop(); at once when one stopped on its own
        results = await asyncio.gather(*runs, return_exceptions=True)
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                raise result
        errors = [result for result in results if isinstance(result, Exception)]
        return errors[0] if errors else None

    async def _reconnect(self, delay: float) -> float:
        """Wait until the database answers and the dead runs' rows are cleaned up; returns the
        next back-off delay."""
        while not self._stopping():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            delay = min(delay * 2, self._max_delay)
            if self._stopping():
                break
            try:
                await self._probe()
                await self._forget_stale_workers()
            except Exception as exc:  # still away: try again later
                log.info(
                    "database still unavailable",
                    extra={"action": "jobs.worker.waiting_for_database", "error": _describe(exc)},
                )
                continue
            break
        return delay

    async def _forget_stale_workers(self) -> None:
        manager = self._app.job_manager
        for worker_id in sorted(self._stale_worker_ids):
            await manager.unregister_worker(worker_id)
            self._stale_worker_ids.discard(worker_id)
        # Their unfinished jobs now have no worker; none of them runs in this process any more
        # (a run ends only after its jobs ended), so hand them back now, not at the next reap.
        await requeue_stalled_jobs(
            self._app,
            seconds_since_heartbeat=float(self._lanes[0]["stalled_worker_timeout"]),
        )


REPEATED_SIGNAL_SECONDS = 1.0
"""A stop signal repeated within this long is the first one passed on again (a process group's
SIGTERM and the same forwarded by `make` or `timeout`), not a second request to stop at once."""


def _default_signals(loop: asyncio.AbstractEventLoop) -> None:
    """SIGTERM and SIGINT back to their default action (stop the process at once)."""
    for handled in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(handled)


def _describe(error: BaseException) -> str:
    cause = error.__cause__ or error.__context__
    text = f"{type(error).__name__}: {str(error).strip()}"
    if cause is not None:
        text += f" ({type(cause).__name__}: {str(cause).strip()})"
    return text[:500]
