"""The chaos run, end to end, everything a separate process as in production:

1. a PostgreSQL the run owns (`PgServer`), the QBO emulator (`qbo-emulator serve`), rentsync's
   API (`rentsync serve --no-worker`) and N `rentsync worker` processes, supervised (any that
   exits is started again and counted);
2. a company created with `rentsync company create`, connected through the real OAuth flow over
   HTTP (connect link -> consent page -> approve -> rentsync's callback), accounts mapped;
3. QBO faults on (5xx, drop after commit, locked, a little throttling and latency); the seeded
   scenario driven through the public HTTP API while the chaos monkey kills workers with SIGKILL
   (and, in the long run, kills PostgreSQL with SIGKILL and starts it again);
4. faults off, then a quiet period until no document is pending (bounded);
5. QBO compared with the source of truth and the status API (`verify`), figures and diagnosis.

Every wait is bounded in time; only processes started here are signalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import psycopg

from tests.chaos.processes import (
    QBO_EMULATOR,
    RENTSYNC,
    PgServer,
    Service,
    Supervisor,
    free_port,
)
from tests.chaos.scenario import Op, Scenario, Sizes, build_scenario
from tests.chaos.verify import KINDS, Verdict, diagnose, verify

SECRET_KEY = "chaos-test-secret-key-not-for-production-0123456789"
REQUEST_RETRY_SECONDS = 180.0


@dataclass(frozen=True)
class ChaosConfig:
    name: str
    seed: int
    sizes: Sizes
    workers: int
    concurrency: int
    kills: int
    pg_restarts: int
    drive_seconds: float
    """The scenario's batches are spread over about this long."""
    chaos_tail_seconds: float
    """Kills go on this long after the last batch (while the workers catch up)."""
    settle_timeout: float
    token_ttl: int
    """Access tokens' lifetime in the emulator. rentsync refreshes 5 minutes before expiry, so
    330 s means a refresh about every 30 s (across all workers, serialised); below 300 s every
    request refreshes."""
    faults: dict[str, Any]
    in_flight: int = 12


def short_config(seed: int, token_ttl: int | None = None) -> ChaosConfig:
    return ChaosConfig(
        name="short",
        seed=seed,
        sizes=Sizes(customers=12, products=8, orders=80, mutations=110, batch=10),
        workers=2,
        concurrency=4,
        kills=4,
        pg_restarts=1,
        drive_seconds=12.0,
        chaos_tail_seconds=4.0,
        settle_timeout=45.0,
        token_ttl=token_ttl or 320,
        # No throttling here: rentsync waits 60 s after a 429 (QBO sends no Retry-After), which
        # would not fit the short run's time.
        faults={
            "seed": seed,
            "error_rate": 0.05,
            "drop_after_commit_rate": 0.05,
            "locked_rate": 0.03,
            "latency": {"distribution": "uniform", "min_ms": 2, "max_ms": 40},
        },
    )


def long_config(seed: int, token_ttl: int | None = None) -> ChaosConfig:
    return ChaosConfig(
        name="long",
        seed=seed,
        sizes=Sizes(customers=150, products=50, orders=1800, mutations=2400, batch=16),
        workers=4,
        concurrency=6,
        kills=32,
        pg_restarts=2,
        drive_seconds=150.0,
        chaos_tail_seconds=30.0,
        settle_timeout=300.0,
        token_ttl=token_ttl or 330,
        faults={
            "seed": seed,
            "error_rate": 0.05,
            "drop_after_commit_rate": 0.05,
            "locked_rate": 0.03,
            "throttle": {"every": 500, "burst": 1},
            "latency": {"distribution": "uniform", "min_ms": 2, "max_ms": 40},
        },
        in_flight=16,
    )


@dataclass
class Result:
    config: ChaosConfig
    figures: dict[str, Any]
    verdict: Verdict
    diagnosis: str
    anomalies: list[str]
    log_errors: list[str]
    run_dir: Path
    exits: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.verdict.problems and not self.anomalies

    def table(self) -> str:
        width = max(len(k) for k in self.figures)
        rows = [f"  {k:<{width}}  {v}" for k, v in self.figures.items()]
        return f"chaos run ({self.config.name}, seed {self.config.seed})\n" + "\n".join(rows)

    def report(self) -> str:
        parts = [self.table()]
        if self.anomalies:
            parts.append("API answers not as expected:\n  " + "\n  ".join(self.anomalies[:30]))
        if self.exits:
            parts.append(
                "processes that exited on their own (restarted by the supervisor):\n  "
                + "\n  ".join(self.exits)
            )
        if self.log_errors:
            parts.append("rentsync process logs (errors):\n  " + "\n  ".join(self.log_errors))
        if self.verdict.problems:
            parts.append(
                "problems by kind: "
                + ", ".join(f"{k}={self.verdict.count(k)}" for k in KINDS)
                + f"\nreproduce: RENTSYNC_CHAOS={self.config.name} "
                f"RENTSYNC_CHAOS_SEED={self.config.seed} pytest tests/chaos -s\n" + self.diagnosis
            )
        parts.append(f"logs: {self.run_dir}")
        return "\n\n".join(parts)


@dataclass
class Driver:
    """Sends the scenario through the public API; keeps the journal per document."""

    api: httpx2.AsyncClient
    db_up: asyncio.Event
    started: float
    revisions: dict[tuple[str, str], int] = field(default_factory=dict)
    journal: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    anomalies: list[str] = field(default_factory=list)
    retries: int = 0
    sent: Counter[str] = field(default_factory=Counter)

    def note(self, doc: tuple[str, str], text: str) -> None:
        self.journal.setdefault(doc, []).append(f"{time.monotonic() - self.started:7.2f}s {text}")

    async def call(self, method: str, url: str, **kwargs: Any) -> tuple[httpx2.Response, int]:
        """The request, again while the API or its database is away (5xx, connection refused);
        returns the answer and how many tries failed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REQUEST_RETRY_SECONDS
        delay, failed, last = 0.1, 0, ""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.db_up.wait(), timeout=max(1.0, deadline - loop.time()))
            try:
                response = await self.api.request(method, url, **kwargs)
                if response.status_code < 500:
                    return response, failed
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx2.TransportError as error:
                last = f"{type(error).__name__}: {error}"
            failed += 1
            self.retries += 1
            if loop.time() > deadline:
                raise AssertionError(
                    f"{method} {url}: no answer for {REQUEST_RETRY_SECONDS} s: {last}"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def send(self, op: Op) -> None:
        if op.body is None:
            response, failed = await self.call(
                "DELETE", f"/api/v1/{op.plural}/{op.sid}", params={"version": op.version}
            )
            self.sent["DELETE"] += 1
        else:
            response, failed = await self.call("PUT", f"/api/v1/{op.plural}/{op.sid}", json=op.body)
            self.sent["PUT"] += 1
        what = f"{op.label} v{op.version}"
        if response.status_code not in (200, 202):
            self.note(op.doc, f"{what} -> HTTP {response.status_code} {response.text[:200]}")
            self.anomalies.append(
                f"{op.plural}/{op.sid} {what}: HTTP {response.status_code} {response.text[:300]}"
            )
            return
        answer = response.json()
        accepted = bool(answer["accepted"])
        if not accepted and failed and not op.late:
            # An earlier try was stored before its answer was lost: the API says so.
            stored = re.search(r"stored version (\d+)", str(answer.get("detail")))
            accepted = stored is not None and int(stored.group(1)) == op.version
        self.note(
            op.doc,
            f"{what} -> {response.status_code} accepted={answer['accepted']} "
            f"revision={answer['revision']}{f' after {failed} failed tries' if failed else ''}",
        )
        if op.late:
            if answer["accepted"]:
                self.anomalies.append(
                    f"{op.plural}/{op.sid}: late PUT of older v{op.version} was accepted ({answer})"
                )
            return
        if not accepted:
            self.anomalies.append(f"{op.plural}/{op.sid} {what} not accepted: {answer}")
            return
        self.revisions[op.doc] = int(answer["revision"])

    async def drive(self, scenario: Scenario, seconds: float, in_flight: int) -> None:
        pace = seconds / max(1, len(scenario.batches))
        gate = asyncio.Semaphore(in_flight)

        async def one(op: Op) -> None:
            async with gate:
                await self.send(op)

        loop = asyncio.get_running_loop()
        begin = loop.time()
        for n, batch in enumerate(scenario.batches):
            await asyncio.gather(*(one(op) for op in batch))
            ahead = begin + (n + 1) * pace - loop.time()
            if ahead > 0:
                await asyncio.sleep(ahead)

    async def status(self, plural: str, sid: str) -> dict[str, Any] | None:
        response, _ = await self.call("GET", f"/api/v1/{plural}/{sid}/sync")
        if response.status_code != 200:
            return None
        return dict(response.json())


@dataclass
class Chaos:
    """Kills workers (and PostgreSQL) at seeded random moments."""

    config: ChaosConfig
    workers: list[Service]
    pg: PgServer
    db_up: asyncio.Event
    started: float
    kills: int = 0
    pg_restarts: int = 0
    pg_down_seconds: list[float] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def plan(self) -> list[tuple[float, str]]:
        rng = random.Random(self.config.seed * 7 + 1)
        span = self.config.drive_seconds + self.config.chaos_tail_seconds
        plan = [(rng.uniform(1.0, span), "kill") for _ in range(self.config.kills)]
        for n in range(self.config.pg_restarts):
            at = span * (n + 1) / (self.config.pg_restarts + 1) + rng.uniform(-3.0, 3.0)
            plan.append((at, "pg"))
        return sorted(plan)

    async def run(self) -> None:
        rng = random.Random(self.config.seed * 7 + 2)
        loop = asyncio.get_running_loop()
        begin = loop.time()
        for at, action in self.plan():
            ahead = begin + at - loop.time()
            if ahead > 0:
                await asyncio.sleep(ahead)
            if action == "kill":
                await self.kill_worker(rng)
            else:
                await self.restart_pg(rng)

    async def kill_worker(self, rng: random.Random) -> None:
        for _ in range(100):  # at most ~20 s for a worker to be up again (after a PG restart)
            alive = [w for w in self.workers if w.exited() is None]
            if alive:
                victim = rng.choice(alive)
                pid = victim.pid
                victim.kill()
                self.kills += 1
                self.events.append(
                    f"{time.monotonic() - self.started:7.2f}s SIGKILL {victim.name} pid {pid}"
                )
                return
            await asyncio.sleep(0.2)
        self.events.append("no live worker to kill for 20 s")

    async def restart_pg(self, rng: random.Random) -> None:
        self.db_up.clear()
        down = time.monotonic()
        killed = await asyncio.to_thread(self.pg.kill)
        self.events.append(f"{down - self.started:7.2f}s SIGKILL PostgreSQL ({killed} processes)")
        await asyncio.sleep(rng.uniform(1.0, 3.0))
        await asyncio.to_thread(self.pg.start)
        await asyncio.to_thread(self.pg.wait_ready)
        self.pg_restarts += 1
        self.pg_down_seconds.append(time.monotonic() - down)
        self.events.append(
            f"{time.monotonic() - self.started:7.2f}s PostgreSQL up again (crash recovery)"
        )
        self.db_up.set()


# --- set-up -------------------------------------------------------------------------------------


async def _wait_http(client: httpx2.AsyncClient, url: str, service: Service, within: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if service.exited() is not None:
            raise AssertionError(f"{service.name} exited at start:\n{service.tail()}")
        with contextlib.suppress(httpx2.TransportError):
            if (await client.get(url, timeout=2.0)).status_code == 200:
                return
        if loop.time() > deadline:
            raise AssertionError(f"{service.name} did not answer {url} in {within} s")
        await asyncio.sleep(0.1)


def _ok(response: httpx2.Response, what: str, *codes: int) -> Any:
    assert response.status_code in (codes or (200, 201)), (
        f"{what}: HTTP {response.status_code} {response.text[:500]}"
    )
    return response.json() if "json" in response.headers.get("content-type", "") else None


async def connect(api: httpx2.AsyncClient, qbo: httpx2.AsyncClient, realm: str) -> dict[str, Any]:
    """As a user: rentsync's connect link -> consent page -> approve -> rentsync's callback."""
    authorize_url = _ok(await api.post("/api/v1/qbo/connect"), "connect")["authorize_url"]
    page = await qbo.get(authorize_url)
    assert page.status_code == 200, page.text[:300]
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    form = {
        key: query[key]
        for key in ("client_id", "redirect_uri", "state", "scope", "response_type")
        if key in query
    }
    approved = await qbo.post(
        "/connect/oauth2/consent", data={**form, "realm_id": realm, "decision": "approve"}
    )
    assert approved.status_code == 302, approved.text[:300]
    landed = await api.get(approved.headers["location"])
    assert landed.status_code == 200, landed.text[:300]
    status = _ok(await api.get("/api/v1/qbo/connection"), "connection")
    assert status["state"] == "connected", status
    return dict(status)


def _create_company(env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        [RENTSYNC, "company", "create", "Chaos Party Rentals"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    company = re.search(r"Created company (\d+)", done.stdout)
    key = re.search(r"API key \(store it now; it is not shown again\): (\S+)", done.stdout)
    assert company and key, done.stdout
    return int(company.group(1)), key.group(1)


def _log_errors(services: list[Service], limit: int = 12) -> list[str]:
    """Distinct error lines from the rentsync processes' logs (tracebacks' last lines)."""
    found: Counter[str] = Counter()
    for service in services:
        for path in service.log_paths:
            try:
                lines = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for n, line in enumerate(lines):
                if line.startswith("Traceback"):
                    tail = next(
                        (
                            x
                            for x in lines[n + 1 :]
                            if x and not x.startswith((" ", "Traceback", "\t"))
                        ),
                        "?",
                    )
                    found[f"{service.name}: {tail[:200]}"] += 1
    return [f"{count} x {text}" for text, count in found.most_common(limit)]


def _unfinished_jobs(database_url: str, limit: int = 40) -> list[str]:
    """For the diagnosis: the queue's jobs still to do or in progress, with their worker's
    last heartbeat (read straight from the database, never used to decide the verdict)."""
    query = """
        SELECT j.id, j.status, j.task_name, j.lock, j.attempts, j.scheduled_at, j.worker_id,
               w.last_heartbeat, now()
          FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
         WHERE j.status IN ('todo', 'doing') ORDER BY j.id LIMIT %s"""
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        rows = conn.execute(query, (limit,)).fetchall()
    return [
        f"job {r[0]} {r[1]} {r[2]} lock={r[3]} attempts={r[4]} scheduled_at={r[5]} "
        f"worker={r[6]} heartbeat={r[7]} now={r[8]}"
        for r in rows
    ]


def _log_count(services: list[Service], needle: str) -> int:
    total = 0
    for service in services:
        for path in service.log_paths:
            with contextlib.suppress(OSError):
                total += path.read_text(errors="replace").count(needle)
    return total


# --- the run ------------------------------------------------------------------------------------


async def run_chaos(config: ChaosConfig, root: Path) -> Result:
    began = time.monotonic()
    scenario = build_scenario(config.seed, config.sizes)
    logs = root / "logs"
    logs.mkdir(parents=True)
    pg = PgServer(root)
    await asyncio.to_thread(pg.first_start)
    database_url = await asyncio.to_thread(pg.create_database, "rentsync_chaos")
    emulator_port, api_port = free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith("RENTSYNC_") and k != "DATABASE_URL"
    }
    emulator = Service(
        "qbo-emulator",
        [
            *(QBO_EMULATOR, "serve", "--host", "127.0.0.1", "--port", str(emulator_port)),
            *("--no-limits", "--token-ttl", str(config.token_ttl)),
        ],
        base_env,
        logs,
    )
    supervised: list[Service] = []
    supervisor: Supervisor | None = None
    stop = asyncio.Event()
    supervisor_task: asyncio.Task[None] | None = None
    db_up = asyncio.Event()
    db_up.set()
    try:
        emulator.start()
        async with httpx2.AsyncClient(base_url=emulator_url, timeout=30) as qbo:
            await _wait_http(qbo, "/admin/apps", emulator, 30)
            callback = f"{api_url}/qbo/callback"
            app = _ok(await qbo.post("/admin/apps", json={"redirect_uris": [callback]}), "app")
            books = _ok(
                await qbo.post(
                    "/admin/companies", json={"plan": "plus", "name": "Chaos Party Rentals QBO"}
                ),
                "company",
            )
            realm, accounts = str(books["realmId"]), books["accounts"]
            env = {
                **base_env,
                "DATABASE_URL": database_url,
                "RENTSYNC_DATA_DIR": str(root / "data"),
                "RENTSYNC_SECRET_KEY": SECRET_KEY,
                "RENTSYNC_QBO_ENVIRONMENT": "emulator",
                "RENTSYNC_QBO_EMULATOR_URL": emulator_url,
                "RENTSYNC_QBO_CLIENT_ID": app["client_id"],
                "RENTSYNC_QBO_CLIENT_SECRET": app["client_secret"],
                "RENTSYNC_QBO_REDIRECT_URI": callback,
                "RENTSYNC_QBO_TIMEOUT_SECONDS": "10",
                "RENTSYNC_QBO_REQUESTS_PER_MINUTE": "1000000",
                "RENTSYNC_HOST": "127.0.0.1",
                "RENTSYNC_PORT": str(api_port),
                "RENTSYNC_SYNC_TRANSIENT_BASE_SECONDS": "0.2",
                "RENTSYNC_SYNC_LOCKED_RETRY_SECONDS": "0.3",
                "RENTSYNC_STALLED_AFTER_SECONDS": "3",
                "RENTSYNC_WORKER_CONCURRENCY": str(config.concurrency),
                "RENTSYNC_LOG_LEVEL": "INFO",
            }
            api_service = Service("api", [RENTSYNC, "serve", "--no-worker"], env, logs)
            supervised.append(api_service)
            api_service.start()
            async with httpx2.AsyncClient(base_url=api_url, timeout=30) as anonymous:
                await _wait_http(anonymous, "/health", api_service, 90)
            company_id, key = await asyncio.to_thread(_create_company, env)
            headers = {"Authorization": f"Bearer {key}"}
            limits = httpx2.Limits(max_connections=config.in_flight + 8)
            async with httpx2.AsyncClient(
                base_url=api_url, headers=headers, timeout=30, limits=limits
            ) as api:
                await connect(api, qbo, realm)
                _ok(
                    await api.put(
                        "/api/v1/settings",
                        json={
                            "sync_mode": "all_orders_and_quotes",
                            "accounts": {
                                "income": accounts["income"],
                                "expense": accounts["cogs"],
                                "asset": accounts["inventory"],
                                "payable": accounts["ap"],
                                "vendor_payment": accounts["bank"],
                                "deposit": accounts["undeposited"],
                            },
                        },
                    ),
                    "settings",
                )
                before = _ok(await qbo.get(f"/admin/companies/{realm}"), "books")
                baseline = {
                    entity: set(map(str, before.get("entities", {}).get(entity, {})))
                    for entity in ("Customer", "Item", "Invoice")
                }
                workers = [
                    Service(
                        f"worker-{n}",
                        [RENTSYNC, "worker", "--concurrency", str(config.concurrency)],
                        env,
                        logs,
                    )
                    for n in range(1, config.workers + 1)
                ]
                supervised.extend(workers)
                for worker in workers:
                    worker.start()
                _ok(
                    await qbo.put(f"/admin/companies/{realm}/faults", json=config.faults),
                    "faults",
                )
                started = time.monotonic()
                supervisor = Supervisor(supervised, db_up, started)
                supervisor_task = asyncio.create_task(supervisor.run(stop))
                driver = Driver(api=api, db_up=db_up, started=started)
                chaos = Chaos(config, workers, pg, db_up, started)
                await asyncio.gather(
                    driver.drive(scenario, config.drive_seconds, config.in_flight), chaos.run()
                )
                drive_done = time.monotonic()
                _ok(await qbo.delete(f"/admin/companies/{realm}/faults"), "faults off")
                settled_in = await _settle(driver, scenario, config.settle_timeout)
                await asyncio.sleep(2.0)  # quiet: nothing may change any more
                statuses = await _all_statuses(driver, scenario, config.in_flight)
                books = _ok(await qbo.get(f"/admin/companies/{realm}"), "books")
                queue = await asyncio.to_thread(_unfinished_jobs, database_url)
        stop.set()
        if supervisor_task is not None:
            await supervisor_task
        verdict = verify(scenario, company_id, books, statuses, baseline)
        diagnosis = diagnose(verdict, scenario, company_id, books, statuses, driver.journal)
        assert supervisor is not None
        figures = _figures(
            config,
            scenario,
            driver,
            chaos,
            supervisor,
            verdict,
            settled_in=settled_in,
            drive_seconds=drive_done - started,
            total=time.monotonic() - began,
            requeued=_log_count(supervised, "jobs.requeue_stalled"),
        )
        return Result(
            config=config,
            figures=figures,
            verdict=verdict,
            diagnosis=diagnosis
            + "\n\njobs not finished (procrastinate_jobs):\n  "
            + ("\n  ".join(queue) or "none")
            + "\n\nchaos events:\n  "
            + "\n  ".join(chaos.events),
            anomalies=driver.anomalies,
            log_errors=_log_errors(supervised),
            run_dir=root,
            exits=[
                f"{e.service}#{e.generation} exit code {e.code} at {e.at:.1f}s: {e.last_words()}"
                for e in supervisor.unplanned_exits[:10]
            ],
        )
    finally:
        stop.set()
        if supervisor_task is not None and not supervisor_task.done():
            supervisor_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor_task
        for service in supervised:
            service.stop()
        emulator.stop()
        await asyncio.to_thread(pg.stop)
        shutil.rmtree(pg.pgdata, ignore_errors=True)


def _settled(expected: int | None, status: dict[str, Any] | None) -> bool:
    if status is None or status["state"] == "pending":
        return False
    if expected is not None and status.get("revision") != expected:
        return False
    return status["state"] != "synced" or status.get("synced_revision") == status.get("revision")


async def _settle(driver: Driver, scenario: Scenario, timeout: float) -> float | None:
    """Seconds until every document settled at its latest revision; None on timeout."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    waiting = sorted(scenario.source)
    gate = asyncio.Semaphore(16)

    async def check(doc: tuple[str, str]) -> bool:
        async with gate:
            return _settled(driver.revisions.get(doc), await driver.status(*doc))

    while waiting:
        done = await asyncio.gather(*(check(doc) for doc in waiting))
        waiting = [doc for doc, ok in zip(waiting, done, strict=True) if not ok]
        if not waiting:
            break
        if loop.time() - begin > timeout:
            return None
        await asyncio.sleep(1.0)
    return loop.time() - begin


async def _all_statuses(
    driver: Driver, scenario: Scenario, in_flight: int
) -> dict[tuple[str, str], dict[str, Any]]:
    gate = asyncio.Semaphore(in_flight)
    docs = sorted(scenario.source)

    async def one(doc: tuple[str, str]) -> dict[str, Any] | None:
        async with gate:
            return await driver.status(*doc)

    found = await asyncio.gather(*(one(doc) for doc in docs))
    return {doc: status for doc, status in zip(docs, found, strict=True) if status is not None}


def _figures(
    config: ChaosConfig,
    scenario: Scenario,
    driver: Driver,
    chaos: Chaos,
    supervisor: Supervisor,
    verdict: Verdict,
    *,
    settled_in: float | None,
    drive_seconds: float,
    total: float,
    requeued: int,
) -> dict[str, Any]:
    sizes = config.sizes
    unplanned = supervisor.unplanned_exits
    return {
        "seed": config.seed,
        "documents": f"{len(scenario.source)} ({sizes.customers} customers, "
        f"{sizes.products} products, {sizes.orders} orders)",
        "orders live / deleted at the end": f"{len(scenario.live_orders())} / "
        f"{len(scenario.deleted_orders())}",
        "PUTs": driver.sent["PUT"],
        "DELETEs": driver.sent["DELETE"],
        "updates / moves / restores": f"{scenario.count('update')} / {scenario.count('move')} / "
        f"{scenario.count('restore')}",
        "customer renames / email changes": f"{scenario.count('rename')} / "
        f"{scenario.count('email')}",
        "product changes": scenario.count("price"),
        "late older PUTs (no-ops)": scenario.count("late"),
        "workers": f"{config.workers} x concurrency {config.concurrency}",
        "worker kills (SIGKILL)": chaos.kills,
        "processes restarted by the supervisor": supervisor.restarts,
        "jobs of killed workers requeued": requeued,
        "exits not caused by the test": f"{len(unplanned)} "
        + " ".join(f"{e.service}#{e.generation}@{e.at:.0f}s" for e in unplanned[:8]),
        "PostgreSQL restarts (SIGKILL)": f"{chaos.pg_restarts} (down "
        + ", ".join(f"{s:.1f}" for s in chaos.pg_down_seconds)
        + " s)",
        "API calls retried (5xx / refused)": driver.retries,
        "API answers not as expected": len(driver.anomalies),
        "QBO faults": ", ".join(
            f"{k}={v}" for k, v in config.faults.items() if k not in ("seed", "latency")
        ),
        "QBO invoices / new customers / new items": f"{verdict.checked.get('qbo_invoices')} / "
        f"{verdict.checked.get('qbo_customers')} / {verdict.checked.get('qbo_items')}",
        "duplicates": verdict.count("duplicate"),
        "left behind": verdict.count("left_behind"),
        "stale": verdict.count("stale"),
        "stuck": verdict.count("stuck"),
        "drive (s)": f"{drive_seconds:.1f}",
        "settled after faults off (s)": "timeout" if settled_in is None else f"{settled_in:.1f}",
        "duration (s)": f"{total:.1f}",
    }
