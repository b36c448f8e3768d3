"""The job queue: procrastinate tasks, thin; the work itself lives in the services they call.

A job carries only keys; whatever it needs is read from the database when it runs, so a
crash between "stored" and "done" loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import procrastinate
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.store.documents import SYNC_QUEUE, SYNC_TASK
from rentsync.store.rate_limits import PgRateWindow
from rentsync.sync.failures import RetryLater

if TYPE_CHECKING:
    from rentsync.bootstrap import Services

log = logging.getLogger(__name__)

DIAGNOSTICS_QUEUE = "diagnostics"
MAINTENANCE_QUEUE = "maintenance"
SERVICES_KEY = "services"

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
        if isinstance(exception, RetryLater):
            return procrastinate.RetryDecision(
                retry_at=datetime.now(UTC) + timedelta(seconds=exception.seconds)
            )
        if job.attempts >= self.unexpected_max_attempts:
            return None
        return procrastinate.RetryDecision(
            retry_at=datetime.now(UTC) + timedelta(seconds=2 ** (job.attempts + 2))
        )


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
    try:
        return await services_of(context).reconciler.reconcile(key)
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


# Every 15 s (croniter's optional sixth field is seconds). A worker killed mid-job leaves the job
# "doing" and holding its lock; once its heartbeat is older than the threshold the job is
# handed back to the queue, so nothing behind that lock stays blocked for long.
@blueprint.periodic(cron="* * * * * */15")
@blueprint.task(name="rentsync.reap_stalled_jobs", queue=MAINTENANCE_QUEUE, pass_context=True)
async def reap_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    threshold = services_of(context).settings.stalled_after_seconds
    await requeue_stalled_jobs(context.app, seconds_since_heartbeat=threshold)


async def requeue_stalled_jobs(app: procrastinate.App, *, seconds_since_heartbeat: float) -> int:
    manager = app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat))
    for job in stalled:
        log.warning(
            "requeueing a job whose worker stopped sending heartbeats",
            extra={"action": "jobs.requeue_stalled", "job_id": job.id, "task": job.task_name},
        )
        await manager.retry_job(job)
    return len(stalled)


# Daily: the QuickBooks request log is kept RENTSYNC_QBO_LOG_RETENTION_DAYS days (R16); the
# per-minute rate-limit counters only matter for the current minute.
@blueprint.periodic(cron="17 3 * * *")
@blueprint.task(name="rentsync.purge_qbo_log", queue=MAINTENANCE_QUEUE, pass_context=True)
async def purge_qbo_log(context: procrastinate.JobContext, timestamp: int) -> None:
    services = services_of(context)
    removed = await services.qbo_log.purge(older_than_days=services.settings.qbo_log_retention_days)
    await PgRateWindow(services.pool).purge()
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


def worker_options(services: Services, *, concurrency: int, in_process: bool) -> dict[str, Any]:
    settings = services.settings
    return {
        "name": f"{socket.gethostname()}:{os.getpid()}",
        "concurrency": concurrency,
        "additional_context": {SERVICES_KEY: services},
        "install_signal_handlers": not in_process,
        # New jobs arrive by LISTEN/NOTIFY at once; a retry scheduled for later is only seen by
        # polling, so poll often enough for R15's "again in about 10 s" to hold.
        "fetch_job_polling_interval": 1.0,
        # A job still running this long after a stop request is aborted and retried later.
        "shutdown_graceful_timeout": 30.0,
        "update_heartbeat_interval": max(1.0, settings.stalled_after_seconds / 3),
        "stalled_worker_timeout": float(settings.stalled_after_seconds),
    }
