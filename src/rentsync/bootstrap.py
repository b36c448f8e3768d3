"""The composition root: the one place that builds the database, pool, job app and services.

Entry points (api, cli, jobs) receive a `Services`; nothing else constructs infrastructure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import procrastinate
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from rentsync import crypto, jobs, lane_process
from rentsync.domain import bulk as plan_rules
from rentsync.domain.connection import Connection
from rentsync.domain.documents import DocumentType
from rentsync.domain.qbo import StoredConnection, StoredStatus, as_of
from rentsync.domain.settings import SyncSettings
from rentsync.people.service import PeopleService
from rentsync.qbo import environments
from rentsync.qbo.client import ClientSettings
from rentsync.qbo.connector import QboService
from rentsync.qbo.http import Transport
from rentsync.qbo.limits import Limiter, LimitSettings
from rentsync.qbo.oauth import OAuthApp
from rentsync.settings import Settings
from rentsync.store import database, migrate
from rentsync.store.audit import AuditRepository
from rentsync.store.bulk_syncs import BulkSyncRepository
from rentsync.store.companies import CompanyRepository
from rentsync.store.connections import ConnectionRepository
from rentsync.store.diagnostics import DiagnosticsRepository
from rentsync.store.documents import DocumentRepository
from rentsync.store.ledger import LedgerRepository
from rentsync.store.listing import DocumentListRepository
from rentsync.store.locks import AdvisoryLocks
from rentsync.store.overview import OverviewRepository
from rentsync.store.people import PeopleRepository
from rentsync.store.pool_check import IdleConnectionCheck
from rentsync.store.qbo_log import QboLogRepository
from rentsync.store.rate_limits import PgRealmBudget
from rentsync.store.sync_settings import SyncSettingsRepository
from rentsync.sync import retry
from rentsync.sync.batching import BatchCoalescer
from rentsync.sync.bulk import BATCH_LINGER_SECONDS, BulkSyncs
from rentsync.sync.kinds import KINDS
from rentsync.sync.kinds.base import Engine
from rentsync.sync.ports import CompanyQbo, QboAccess
from rentsync.sync.reconcile import Reconciler
from rentsync.sync.references import References
from rentsync.sync.settings_service import CompanySettingsService

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
    connections: ConnectionRepository
    qbo_log: QboLogRepository
    qbo: QboService
    """QuickBooks: connect/disconnect/status and `await services.qbo.client_for(company_id)`."""
    qbo_access: QboAccess
    """A company's QuickBooks side as the sync engine sees it (connection state, client)."""
    reconciler: Reconciler
    overview: OverviewRepository
    """The console's dashboard figures."""
    document_list: DocumentListRepository
    """The console's documents list across kinds."""
    people: PeopleService
    """Console users, sign-in, one-time sign-in links, and the audit of console actions."""
    audit: AuditRepository
    console_keys: ConsoleKeys
    company_settings: CompanySettingsService
    """Chart of accounts, saving the sync settings (checked), tax rates "Sync with QuickBooks"."""
    bulk_syncs: BulkSyncs
    """Bulk syncs (R18): preview, run, progress, cancel."""


@dataclass(frozen=True)
class ConsoleKeys:
    """The web console's keys, each derived from the secret key for its one purpose (never
    stored)."""

    session: bytes
    csrf: bytes
    signin_links: bytes

    def __repr__(self) -> str:
        return "ConsoleKeys(<keys hidden>)"

    @classmethod
    def derive(cls, settings: Settings) -> ConsoleKeys:
        secret = crypto.load_secret(settings)
        return cls(
            session=crypto.derive_key(secret, "console-session:v1"),
            csrf=crypto.derive_key(secret, "console-csrf:v1"),
            signin_links=crypto.derive_key(secret, "console-signin-links:v1"),
        )


_OPENED_KEPT = 10_000
"""Companies whose connection and settings a process keeps (`CompanyQboAccess`)."""


class CompanyQboAccess:
    """Adapts the QBO connection service to what the sync engine needs (`sync.ports`)."""

    def __init__(self, service: QboService, connections: ConnectionRepository) -> None:
        self._service = service
        self._connections = connections
        self._opened: dict[int, tuple[str, CompanyQbo, SyncSettings]] = {}
        """Per company, what `open_with_settings` last read and the read version it had."""

    async def open(self, company_id: int) -> CompanyQbo:
        return await self._open(company_id, await self._connections.get(company_id))

    async def open_with_settings(
        self, company_id: int, *, version: str | None = None
    ) -> tuple[CompanyQbo, SyncSettings]:
        # The read version changes with every write of the connection or the settings, by
        # any process (a refresh, a disconnect, a settings change), so the same version means
        # the same rows: the decrypted tokens, settings and client are reused, not read again.
        kept = self._opened.get(company_id)
        if version is not None and kept is not None and kept[0] == version:
            return kept[1], kept[2]
        stored, settings, read_version = await self._connections.get_with_settings(company_id)
        opened = await self._open(company_id, stored)
        if len(self._opened) >= _OPENED_KEPT and company_id not in self._opened:
            del self._opened[next(iter(self._opened))]  # the oldest kept
        self._opened[company_id] = (read_version, opened, settings)
        return opened, settings

    async def _open(self, company_id: int, stored: StoredConnection | None) -> CompanyQbo:
        if stored is not None:
            stored = as_of(stored, self._service.now())
        if (
            stored is None
            or stored.connected_at is None
            or stored.state is StoredStatus.DISCONNECTED
        ):
            return CompanyQbo(connection=Connection.none())
        if stored.state is StoredStatus.LOST:
            return CompanyQbo(
                connection=Connection.lost(stored.connected_at), lost_reason=stored.lost_reason
            )
        return CompanyQbo(
            connection=Connection.connected(stored.connected_at),
            inventory_allowed=stored.facts.inventory_enabled,
            automated_sales_tax=stored.facts.ast_enabled,
            plan=stored.facts.plan,
            client=await self._service.client_for(company_id, connection=stored),
        )


def retry_rules(settings: Settings) -> dict[DocumentType, retry.RetryRule]:
    """R15: attempts per kind (the registry's; the seed: "one or two tries for most jobs")."""
    locked = timedelta(seconds=settings.sync_locked_retry_seconds)
    transient = timedelta(seconds=settings.sync_transient_base_seconds)
    return {
        kind.doc_type: retry.RetryRule(
            max_attempts=kind.max_attempts, locked_delay=locked, transient_base=transient
        )
        for kind in KINDS
    }


def build_references(
    pool: AsyncConnectionPool, documents: DocumentRepository, ledger: LedgerRepository
) -> References:
    return References(
        documents=documents,
        ledger=ledger,
        locks=AdvisoryLocks(pool),
        kinds={kind.doc_type: kind.name_list for kind in KINDS if kind.name_list is not None},
    )


def build_bulk_syncs(
    settings: Settings,
    pool: AsyncConnectionPool,
    *,
    documents: DocumentRepository,
    ledger: LedgerRepository,
    sync_settings: SyncSettingsRepository,
    qbo_access: QboAccess,
) -> BulkSyncs:
    return BulkSyncs(
        repository=BulkSyncRepository(pool),
        documents=documents,
        ledger=ledger,
        settings=sync_settings,
        qbo=qbo_access,
        references=build_references(pool, documents, ledger),
        locks=AdvisoryLocks(pool),
        window=2 * settings.bulk_slots,
        slots=settings.bulk_slots,
        group_size=settings.bulk_group_size,
        requests_per_minute=settings.qbo_requests_per_minute,
    )


def build_reconciler(
    settings: Settings,
    pool: AsyncConnectionPool,
    *,
    documents: DocumentRepository,
    ledger: LedgerRepository,
    sync_settings: SyncSettingsRepository,
    qbo_access: QboAccess,
) -> Reconciler:
    locks = AdvisoryLocks(pool)
    references = build_references(pool, documents, ledger)
    engine = Engine(
        documents=documents,
        ledger=ledger,
        settings=sync_settings,
        qbo=qbo_access,
        locks=locks,
        # Counted against the batches the limiter allows (a test's or emulator's minute other
        # than 500 scales them): counted higher, batches would wait in the limiter with their
        # 30 callers, and the estimate's long run would not be the coalescer's.
        batching=BatchCoalescer(
            linger_seconds=BATCH_LINGER_SECONDS,
            batches_per_minute=plan_rules.batches_per_minute(settings.qbo_requests_per_minute),
        ),
    )
    return Reconciler(
        ledger=ledger,
        handlers={kind.doc_type: kind.handler(engine, references) for kind in KINDS},
        rules=retry_rules(settings),
    )


def _prepare_database(
    settings: Settings,
) -> tuple[contextlib.ExitStack, database.Database, Settings, int]:
    """The database up and migrated, `settings` with the bulk lane's slots known, and the
    connections the server allows rentsync (max_connections less the reserved ones)."""
    stack = contextlib.ExitStack()
    try:
        db = stack.enter_context(database.open_database(settings))
        migrate.migrate(db.url)
        limit, reserved = database.connection_limit(db.url)
    except BaseException:
        stack.close()
        raise
    slots = bulk_lane_slots(settings, max_connections=limit, reserved=reserved)
    return stack, db, replace(settings, bulk_concurrency=slots), limit - reserved


def _report_bulk_lane(settings: Settings, *, derived: bool, allowed: int, runs_it: bool) -> None:
    """The bulk lane's slots, where they come from, and whether the default deployment's pools
    fit the database's connections (a warning, in every process, when they do not)."""
    shape = default_shape_connections(settings)
    if shape <= allowed and not runs_it:
        return
    log.log(
        logging.INFO if shape <= allowed else logging.WARNING,
        "bulk lane: %s slots (%s); a server, a worker and its bulk lane's process use up to %s "
        "of the %s connections the database allows%s",
        settings.bulk_slots,
        "derived from the database's connections" if derived else "RENTSYNC_BULK_CONCURRENCY",
        shape,
        allowed,
        "" if shape <= allowed else ": lower RENTSYNC_BULK_CONCURRENCY or raise max_connections",
        extra={
            "action": "jobs.bulk_lane.slots",
            "slots": settings.bulk_slots,
            "derived": derived,
            "connections_allowed": allowed,
            "connections_used": shape,
        },
    )


def build_qbo(
    settings: Settings,
    pool: AsyncConnectionPool,
    *,
    transport: Transport | None = None,
    client_settings: ClientSettings | None = None,
) -> tuple[ConnectionRepository, QboLogRepository, QboService]:
    """The QuickBooks side: encrypted connection store, request log, limits shared through the
    database, OAuth app and the service handing out clients. `transport` replaces the network
    (tests pass the emulator's)."""
    secret = crypto.load_secret(settings)
    connections = ConnectionRepository(pool, crypto.TokenCipher(secret))
    qbo_log = QboLogRepository(pool)
    client_settings = client_settings or ClientSettings(
        timeout_seconds=float(settings.qbo_timeout_seconds)
    )
    oauth = OAuthApp(
        environment=environments.environment(
            settings.qbo_environment, emulator_url=settings.qbo_emulator_url
        ),
        client_id=settings.qbo_client_id or "",
        client_secret=settings.qbo_client_secret or "",
        redirect_uri=settings.qbo_callback_url,
        transport=transport,
        timeout_seconds=client_settings.timeout_seconds,
        request_log=qbo_log,
    )
    service = QboService(
        store=connections,
        oauth=oauth,
        limiter=Limiter(
            budget=PgRealmBudget(pool),
            settings=LimitSettings.scaled(settings.qbo_requests_per_minute),
        ),
        signing_key=crypto.derive_key(secret, "qbo-oauth-state:v1"),
        request_log=qbo_log,
        transport=transport,
        client_settings=client_settings,
    )
    return connections, qbo_log, service


_API_CONNECTIONS = 10
"""A pool's connections beyond its lanes' slots: the API's requests, procrastinate's fetches and
the worker's own statements."""
BULK_SLOTS_MOST = 80
"""The bulk lane's default slots where the database allows them: a first backfill at QBO's
ceiling needs about 80 jobs at once to fill its batches of 30 (bench/README.md, issue 13 P1)."""
_LISTEN_CONNECTIONS = 2
"""procrastinate's LISTEN connection of a worker and of its bulk lane's process (not pooled)."""
_SPARE_CONNECTIONS = 10
"""Left to others when the bulk lane's default is derived: psql, a backup, migrations, a
connection a pool is replacing."""


def default_shape_connections(settings: Settings) -> int:
    """The connections of the default deployment at most: `serve --no-worker`, one `worker`
    (its real-time lane and the API's share) and its bulk lane's process (its slots + 10), with
    their LISTEN connections (`serve` with its worker in process uses 10 fewer)."""
    return (
        _API_CONNECTIONS
        + settings.worker_concurrency
        + _API_CONNECTIONS
        + settings.bulk_slots
        + _API_CONNECTIONS
        + _LISTEN_CONNECTIONS
    )


def bulk_lane_slots(settings: Settings, *, max_connections: int, reserved: int) -> int:
    """The bulk lane's slots: `RENTSYNC_BULK_CONCURRENCY` when given; otherwise as many as the
    database's connections leave to it in the default deployment (`default_shape_connections`,
    with `_SPARE_CONNECTIONS` spare), at most `BULK_SLOTS_MOST` and at least 1. The embedded
    server allows 200 (`database.EMBEDDED_MAX_CONNECTIONS`): 80; PostgreSQL's default 100: 45."""
    if settings.bulk_concurrency is not None:
        return settings.bulk_concurrency
    others = default_shape_connections(replace(settings, bulk_concurrency=0))
    room = max_connections - reserved - others - _SPARE_CONNECTIONS
    return max(1, min(BULK_SLOTS_MOST, room))


def pool_sizes(settings: Settings, *, with_worker: bool, lanes: jobs.Lanes) -> tuple[int, int]:
    """The pool's (kept, most) connections for a process running `lanes` (`with_worker`), or
    the API alone (`serve --no-worker`: no lane's slots).

    The real-time lane's share and the API's are opened up front and kept (issue 13, P4): a
    pool that grew one connection at a time from 1 queued 676 of 4,658 requests for 67 ms each
    during bench_sync's burst. The bulk lane's share is opened as it is needed: the embedded
    server's 100 connections are shared by serve, the worker and its bulk lane's process, and
    idle backends are not free either (each one more for every snapshot to look at:
    bench_sync's PostgreSQL CPU per document rose with 60 kept open). A job holds a connection
    while it holds a reference's lock (its QBO calls included) and needs another meanwhile, so
    every slot of the lanes here counts (fewer could leave every connection held by a job
    waiting for a second)."""
    real_time, bulk = lanes.here() if with_worker else (False, False)
    steady = (settings.worker_concurrency if real_time else 0) + _API_CONNECTIONS
    return steady, steady + (settings.bulk_slots if bulk else 0)


async def _autocommit(conn: AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)


@contextlib.asynccontextmanager
async def running_services(
    settings: Settings,
    *,
    qbo_transport: Transport | None = None,
    qbo_client_settings: ClientSettings | None = None,
    with_worker: bool = True,
    lanes: jobs.Lanes = jobs.Lanes.BOTH,
) -> AsyncIterator[Services]:
    """Start (or reach) the database, bring its schema up to date, and open the pool (sized for
    the `lanes` this process runs `with_worker`; `serve --no-worker` needs only the API's share).

    `qbo_transport` / `qbo_client_settings` replace the network and the QBO client's timings
    (tests run against the emulator in process)."""
    derived = settings.bulk_concurrency is None
    stack, db, settings, allowed = await asyncio.to_thread(_prepare_database, settings)
    _report_bulk_lane(
        settings,
        derived=derived,
        allowed=allowed,
        runs_it=with_worker and lanes in (jobs.Lanes.SPLIT, jobs.Lanes.BOTH),
    )
    idle_check = IdleConnectionCheck()
    steady, most = pool_sizes(settings, with_worker=with_worker, lanes=lanes)
    pool = AsyncConnectionPool(
        db.url,
        min_size=steady,
        max_size=most,
        open=False,
        name="rentsync",
        # Autocommit: a single statement needs no BEGIN/COMMIT round trips; whatever must be
        # atomic says so with `conn.transaction()`. Set by `configure`, not `kwargs`:
        # procrastinate opens its LISTEN connection with the pool's kwargs plus autocommit=True.
        configure=_autocommit,
        # A connection that sat idle in the pool is checked first (one empty query): after the
        # database restarted, the pool's dead connections are replaced instead of failing a
        # request each. One in steady use is not (the check doubled every statement's round
        # trips: about 155 -> 130 documents/s in bench_sync).
        check=idle_check.check,
        reset=idle_check.returned,
        # After failed connection attempts the pool waits 1, 2, 4, ... s before the next one and
        # only gives up (and starts afresh on demand) after this long: bounded, so the pool is
        # back within seconds of the database however long the database was away.
        reconnect_timeout=10.0,
    )
    qbo: QboService | None = None
    keeper_stop = asyncio.Event()
    keeper = asyncio.create_task(
        _keep_embedded_server_up(db, stop=keeper_stop), name="embedded PostgreSQL keeper"
    )
    try:
        await pool.open(wait=True, timeout=30)
        job_app = jobs.create_job_app()
        await jobs.open_job_app(job_app, pool)
        connections, qbo_log, qbo = build_qbo(
            settings, pool, transport=qbo_transport, client_settings=qbo_client_settings
        )
        documents = DocumentRepository(pool)
        ledger = LedgerRepository(pool)
        sync_settings = SyncSettingsRepository(pool)
        qbo_access = CompanyQboAccess(qbo, connections)
        audit = AuditRepository(pool)
        console_keys = ConsoleKeys.derive(settings)
        yield Services(
            settings=settings,
            database=db,
            pool=pool,
            job_app=job_app,
            diagnostics=DiagnosticsRepository(pool),
            companies=CompanyRepository(pool),
            documents=documents,
            ledger=ledger,
            sync_settings=sync_settings,
            connections=connections,
            qbo_log=qbo_log,
            qbo=qbo,
            qbo_access=qbo_access,
            reconciler=build_reconciler(
                settings,
                pool,
                documents=documents,
                ledger=ledger,
                sync_settings=sync_settings,
                qbo_access=qbo_access,
            ),
            overview=OverviewRepository(pool),
            document_list=DocumentListRepository(pool),
            people=PeopleService(PeopleRepository(pool), audit, link_key=console_keys.signin_links),
            audit=audit,
            console_keys=console_keys,
            company_settings=CompanySettingsService(
                qbo_access=qbo_access, store=sync_settings, refresh_facts=qbo.refresh_facts
            ),
            bulk_syncs=build_bulk_syncs(
                settings,
                pool,
                documents=documents,
                ledger=ledger,
                sync_settings=sync_settings,
                qbo_access=qbo_access,
            ),
        )
    finally:
        # First, so that the server being stopped below (last holder) is not started again;
        # stopped, not cancelled: a cancelled keeper leaves its check running in its thread,
        # holding the embedded server's lock while `stack.close()` takes it to stop the server
        # (the library's lock is not thread-safe: a traceback at shutdown, or worse).
        keeper_stop.set()
        await keeper
        if qbo is not None:
            await qbo.aclose()
        await pool.close()
        stack.close()


EMBEDDED_CHECK_SECONDS = 2.0
"""How often a process checks that the embedded server it uses is running."""


async def _keep_embedded_server_up(db: database.Database, *, stop: asyncio.Event) -> None:
    """An embedded server that died (killed, OOM) is started again on its data directory by
    whichever process using it notices first; an external server is its operator's to restart.
    Ends once `stop` is set and no check is running."""
    if db.restart is None:
        return
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), EMBEDDED_CHECK_SECONDS)
        if stop.is_set():
            return
        try:
            await asyncio.to_thread(db.ensure_running)
        except Exception:
            log.exception(
                "could not start the embedded PostgreSQL again",
                extra={"action": "database.embedded.restart_failed"},
            )


async def database_answers(services: Services) -> None:
    """Raise unless the database answers (through the pool, which the worker will use)."""
    async with services.pool.connection(timeout=5) as conn:
        await conn.execute("SELECT 1")


def worker_runner(
    services: Services, *, concurrency: int, lanes: jobs.Lanes = jobs.Lanes.BOTH
) -> jobs.WorkerRunner:
    """A worker running the `lanes` of this process (the real-time lane of `concurrency` slots,
    the bulk lane of `RENTSYNC_BULK_CONCURRENCY`) that starts again by itself after the database
    went away and came back."""
    return jobs.WorkerRunner(
        services.job_app,
        jobs.worker_lanes(
            services,
            concurrency=concurrency,
            bulk_concurrency=services.settings.bulk_slots,
            lanes=lanes,
        ),
        probe=lambda: database_answers(services),
    )


def bulk_lane_process(services: Services) -> lane_process.BulkLaneProcess:
    """The bulk lane's child process of a worker that runs `Lanes.SPLIT`: this database (an
    embedded server stays this process's to keep up), this process's bulk slots."""
    settings = services.settings
    return lane_process.BulkLaneProcess(
        bulk_concurrency=settings.bulk_slots,
        database_url=services.database.url,
        # Its lane's graceful stop (`jobs.worker_options`) and then some.
        stop_timeout=min(30.0, settings.stalled_after_seconds / 3) + 10,
    )


async def run_worker(
    services: Services,
    *,
    concurrency: int,
    lanes: jobs.Lanes = jobs.Lanes.BOTH,
    supervised: bool = False,
) -> None:
    """Run a standalone worker until SIGTERM/SIGINT. `supervised`: this is a `Lanes.SPLIT`
    worker's bulk lane process, which stops when its parent is gone."""
    runner = worker_runner(services, concurrency=concurrency, lanes=lanes)
    if supervised:
        lane_process.stop_when_parent_dies(runner)
    await run_lanes(services, runner, lanes=lanes, handle_signals=True)


async def run_lanes(
    services: Services,
    runner: jobs.WorkerRunner,
    *,
    lanes: jobs.Lanes,
    handle_signals: bool,
    bulk: lane_process.BulkLaneProcess | None = None,
) -> None:
    """Run `runner` (the lanes of this process) until stopped: SIGTERM/SIGINT with
    `handle_signals`, cancellation (in-process: a graceful stop too); with `Lanes.SPLIT`, the
    bulk lane in a supervised child process beside it (`bulk`, or a new one)."""
    if lanes is jobs.Lanes.SPLIT:
        bulk = bulk or bulk_lane_process(services)
        await lane_process.run_beside(runner, bulk, handle_signals=handle_signals)
    else:
        await runner.run(handle_signals=handle_signals)
