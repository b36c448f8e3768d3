"""The composition root: the one place that builds the database, pool, job app and services.

Entry points (api, cli, jobs) receive a `Services`; nothing else constructs infrastructure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import procrastinate
from psycopg_pool import AsyncConnectionPool

from rentsync import jobs
from rentsync.settings import Settings
from rentsync.store import database, migrate
from rentsync.store.companies import CompanyRepository
from rentsync.store.diagnostics import DiagnosticsRepository
from rentsync.store.documents import DocumentRepository
from rentsync.store.ledger import LedgerRepository
from rentsync.store.sync_settings import SyncSettingsRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Services:
    settings: Settings
    database: database.Database
    pool: AsyncConnectionPool
    job_app: procrastinate.App
    diagnostics: DiagnosticsRepository
    companies: CompanyRepository
    documents: DocumentRepository
    ledger: LedgerRepository
    sync_settings: SyncSettingsRepository


def _prepare_database(settings: Settings) -> tuple[contextlib.ExitStack, database.Database]:
    stack = contextlib.ExitStack()
    db = stack.enter_context(database.open_database(settings))
    migrate.migrate(db.url)
    return stack, db


@contextlib.asynccontextmanager
async def running_services(settings: Settings) -> AsyncIterator[Services]:
    """Start (or reach) the database, bring its schema up to date, and open the pool."""
    stack, db = await asyncio.to_thread(_prepare_database, settings)
    pool = AsyncConnectionPool(
        db.url,
        min_size=1,
        max_size=settings.worker_concurrency + 10,
        open=False,
        name="rentsync",
    )
    try:
        await pool.open(wait=True, timeout=30)
        job_app = jobs.create_job_app()
        await jobs.open_job_app(job_app, pool)
        yield Services(
            settings=settings,
            database=db,
            pool=pool,
            job_app=job_app,
            diagnostics=DiagnosticsRepository(pool),
            companies=CompanyRepository(pool),
            documents=DocumentRepository(pool),
            ledger=LedgerRepository(pool),
            sync_settings=SyncSettingsRepository(pool),
        )
    finally:
        await pool.close()
        stack.close()


async def run_worker(services: Services, *, concurrency: int, in_process: bool = False) -> None:
    """Run a worker until cancelled (in-process) or until SIGTERM/SIGINT (standalone)."""
    options = jobs.worker_options(services, concurrency=concurrency, in_process=in_process)
    await services.job_app.run_worker_async(**options)
