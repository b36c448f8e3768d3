"""Real-time latency during a bulk sync (issue 13, P3, B9): event -> QBO p50/p95/p99/max of many
companies' orders, without and then with one company's bulk sync running, in the same run.

Every part is its own process (`bench/rig.py`): PostgreSQL, `qbo-emulator serve` with QBO's real
limits and 150 ms latency on every company, `rentsync serve --no-worker` and one `rentsync worker`.

Set-up: company 0 gets its whole history (customers, products, orders) before it connects, so a
bulk sync of everything not in QBO has `orders` orders to send (R14). Then `companies` other
companies are created (the company service `rentsync company create` calls, in this process: a
hundred CLI starts would cost minutes of CPU on a 2-core machine), each connected through the
real OAuth flow (connect link, consent page, callback), its accounts mapped, and its customers
and products sent and synced: steady state, so each order event costs one QBO call (the invoice
create).

Then order events at `rate` a second in all, each to a company picked at random (seeded), each
PUT on its own (a slow answer never delays the next event):
- baseline: `baseline_seconds` with no bulk sync;
- during: company 0's bulk sync (`POST /api/v1/bulk-syncs`, not_in_qbo, started at once) until
  it is done; the events counted are those whose PUT answered between the bulk sync's first and
  last QBO request.

Event -> QBO, per event: from the moment the bench received the PUT's 2xx (wall clock of this
process) to the moment rentsync received QBO's 200 to the invoice create (the QuickBooks log's
`at`, stamped after the request slot is taken and right before sending, plus its `duration_ms`).
The emulator commits the invoice just before it answers (after its latency), so this is when QBO
holds the invoice, up to the answer's trip over loopback. Same machine, same clock. Where the time
goes is split from the queue's own events (procrastinate_events: deferred, started) and the log:
queue (deferred -> started), before the request (started -> slot taken and sent: the job's own
statements and the limiter), QBO (the request itself, 150 ms of it the emulator's latency).

`RENTSYNC_BENCH_LANES=split|both` (default split): the worker's `--lanes` (A/B of the bulk lane in
a child process of its own against both lanes on one event loop).

`RENTSYNC_BENCH_SIZE=tiny|small|full` (default small): full is the issue's 5,000-order bulk sync
and 100 companies at 20 events/s; small is the same with a 1,000-order bulk sync; tiny checks
the bench itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import psutil
from psycopg_pool import AsyncConnectionPool
from tests.chaos.processes import Service

from bench.bench_ceiling import (
    _put_all,
    _qbo_documents,
    _wait_settled,
    customer_body,
    order_body,
    product_body,
)
from bench.rig import Company, Rig, process_rig, settings_body
from rentsync.store.companies import CompanyRepository

LATENCY_MS = 150
GOAL_EXTRA_MS = 300
SIZES: dict[str, dict[str, int]] = {
    "tiny": {
        "companies": 10,
        "rate": 5,
        "baseline_seconds": 20,
        "orders": 200,
        "customers": 40,
        "products": 5,
    },
    "small": {
        "companies": 100,
        "rate": 20,
        "baseline_seconds": 60,
        "orders": 1_000,
        "customers": 200,
        "products": 20,
    },
    "full": {
        "companies": 100,
        "rate": 20,
        "baseline_seconds": 60,
        "orders": 5_000,
        "customers": 1_000,
        "products": 100,
    },
}
CUSTOMERS_EACH = 2
PRODUCTS_EACH = 2
SEED = 20261205
SLOW_QUEUE_SECONDS = 0.25
MAX_CONNECTIONS = 300
"""PostgreSQL's limit in this bench (its default, 100, is below what two processes' pools may
ask for with a bulk lane); the run prints the peak it saw."""


@dataclass
class Event:
    company: Company
    source_id: str
    doc_number: str
    sent: float = 0.0
    answered: float | None = None  # the PUT's 2xx, wall clock
    status: int | None = None


@dataclass
class Phase:
    name: str
    events: list[Event] = field(default_factory=list)


def _cpu_now(rig: Rig, services: dict[str, Service]) -> dict[str, float | None]:
    """CPU seconds so far of each process, and of PostgreSQL (postmaster and its backends)."""
    seconds = {name: _cpu_seconds(service.pid) for name, service in services.items()}
    for name, service in services.items():
        # A worker's bulk lane runs in a child process of its own (`--lanes split`).
        try:
            children = psutil.Process(service.pid).children() if service.pid else []
            if children:
                seconds[f"{name} bulk lane"] = sum(
                    t.user + t.system for t in (c.cpu_times() for c in children)
                )
        except psutil.Error:
            pass
    postmaster = rig.pg.postmaster_pid() if rig.pg is not None else None
    if postmaster is not None:
        try:
            tree = [psutil.Process(postmaster), *psutil.Process(postmaster).children(True)]
            seconds["postgresql"] = sum(
                t.user + t.system for t in (p.cpu_times() for p in tree if p.is_running())
            )
        except psutil.Error:
            seconds["postgresql"] = None
    return seconds


def _cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process (and its waited-for children), from /proc/<pid>/stat."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields[11:15]) / ticks


async def _create_companies(rig: Rig, names: list[str]) -> list[tuple[int, str]]:
    """Companies and their first API keys through the company service `rentsync company create`
    runs (same repository, same transaction), without a process start each."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        rig.database_url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    )
    await pool.open(wait=True)
    try:
        repository = CompanyRepository(pool)
        made = []
        for name in names:
            company, key = await repository.create(name)
            made.append((company.id, key.key))
        return made
    finally:
        await pool.close()


async def _connect_company(
    rig: Rig,
    name: str,
    company_id: int,
    key: str,
    catalogue: list[tuple[str, str, Any]],
    warm_up: list[tuple[str, str, Any]],
) -> Company:
    from tests.chaos.harness import connect  # the real OAuth flow, as a user goes through it

    books = await _admin(rig, "post", "/admin/companies", {"plan": "plus", "name": f"{name} QBO"})
    realm = str(books["realmId"])
    await _admin(
        rig,
        "put",
        f"/admin/companies/{realm}/faults",
        {"latency": {"distribution": "fixed", "ms": LATENCY_MS}},
    )
    api = httpx2.AsyncClient(
        base_url=rig.api_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
        limits=httpx2.Limits(max_connections=20),
    )
    await connect(api, rig.qbo, realm)
    accounts = books["accounts"]
    saved = await api.put("/api/v1/settings", json=settings_body(accounts))
    if saved.status_code != 200:
        raise RuntimeError(f"settings: {saved.status_code} {saved.text[:300]}")
    company = Company(company_id, realm, accounts, api)
    rig.companies.append(company)
    await _put_all(api, catalogue)
    await _put_all(api, warm_up)
    return company


async def _admin(rig: Rig, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    if method == "post":
        body = {**body, "limits": {"enabled": True}}
    response = await rig.qbo.request(method.upper(), path, json=body)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    return dict(response.json())


def _event_body(n: int) -> dict[str, Any]:
    body = order_body(n, CUSTOMERS_EACH, PRODUCTS_EACH)
    body["invoice_number"] = f"RT-{n}"
    return body


async def _send_events(
    companies: list[Company],
    rate: int,
    until: asyncio.Event | float,
    counter: list[int],
    rng: random.Random,
) -> list[Event]:
    """Order events at `rate` a second (fixed spacing), each to a random company, each PUT on
    its own task; until `until` (a wall-clock deadline or an event that gets set)."""
    events: list[Event] = []
    tasks: set[asyncio.Task[None]] = set()
    interval = 1.0 / rate
    next_at = time.monotonic()

    async def put(event: Event, body: dict[str, Any]) -> None:
        event.sent = time.time()
        try:
            response = await event.company.api.put(f"/api/v1/orders/{event.source_id}", json=body)
        except httpx2.HTTPError:
            return
        event.status = response.status_code
        if response.status_code in (200, 202):
            event.answered = time.time()

    while True:
        if isinstance(until, asyncio.Event):
            if until.is_set():
                break
        elif time.time() >= until:
            break
        n = counter[0]
        counter[0] += 1
        company = rng.choice(companies)
        event = Event(company, f"RT-{n}", f"RT-{n}")
        events.append(event)
        task = asyncio.create_task(put(event, _event_body(n)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    if tasks:
        await asyncio.gather(*tasks)
    return events


async def _wait_events_settled(rig: Rig, events: list[Event], within: float) -> None:
    ids = [e.company.company_id for e in events]
    deadline = time.monotonic() + within
    while True:
        [(open_docs,)] = await rig.sql(
            "SELECT count(*) FROM documents d LEFT JOIN sync_records r "
            "USING (company_id, doc_type, source_id) WHERE d.company_id = ANY(%s) "
            "AND d.doc_type = 'order' AND (r.state IS NULL OR r.state = 'pending' "
            "OR (r.state = 'synced' AND r.synced_revision < d.revision))",
            sorted(set(ids)),
        )
        if open_docs == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{open_docs} event orders still open after {within:.0f} s")
        await asyncio.sleep(0.5)


@dataclass
class Timing:
    total: float  # PUT 2xx -> QBO's answer to the invoice create, seconds
    queue: float | None  # job deferred -> started
    before: float | None  # job started -> request sent (the job's own work and the limiter)
    qbo: float  # the request itself


async def _timings(rig: Rig, events: list[Event]) -> tuple[list[Timing], int]:
    """Each answered event's timing; and how many events have no 200 invoice create."""
    answered = [e for e in events if e.answered is not None]
    if not answered:
        return [], len(events)
    company_ids = sorted({e.company.company_id for e in answered})
    creates = await rig.sql(
        "SELECT company_id, request_body, extract(epoch FROM at), duration_ms FROM qbo_log "
        "WHERE company_id = ANY(%s) AND method = 'POST' AND status = 200 "
        "AND path LIKE %s ORDER BY id",
        company_ids,
        "%/invoice?%",
    )
    sent_at: dict[tuple[int, str], tuple[float, float]] = {}
    for company_id, body, at, duration_ms in creates:
        try:
            number = json.loads(body).get("DocNumber")
        except ValueError:
            continue
        sent_at.setdefault((company_id, number), (float(at), float(duration_ms) / 1000))
    queue_rows = await rig.sql(
        "SELECT j.args->>'company_id', j.args->>'source_id', "
        "extract(epoch FROM min(e.at) FILTER (WHERE e.type = 'deferred')), "
        "extract(epoch FROM min(e.at) FILTER (WHERE e.type = 'started')) "
        "FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id "
        "WHERE j.args->>'doc_type' = 'order' AND j.args->>'source_id' LIKE %s "
        "GROUP BY 1, 2",
        "RT-%",
    )
    queued: dict[tuple[int, str], tuple[float | None, float | None]] = {
        (int(c), s): (float(d) if d is not None else None, float(st) if st is not None else None)
        for c, s, d, st in queue_rows
    }
    timings: list[Timing] = []
    missing = len(events) - len(answered)
    for event in answered:
        assert event.answered is not None
        found = sent_at.get((event.company.company_id, event.doc_number))
        if found is None:
            missing += 1
            continue
        at, duration = found
        deferred, started = queued.get((event.company.company_id, event.source_id), (None, None))
        timings.append(
            Timing(
                total=at + duration - event.answered,
                queue=started - deferred if started is not None and deferred is not None else None,
                before=at - started if started is not None else None,
                qbo=duration,
            )
        )
    return timings, missing


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _ms(value: float) -> str:
    return f"{value * 1000:.0f}"


def _describe(name: str, timings: list[Timing], missing: int, seconds: float) -> str:
    totals = [t.total for t in timings]
    if not totals:
        return f"{name}: no events measured ({missing} without an invoice create)"
    goal = (LATENCY_MS + GOAL_EXTRA_MS) / 1000
    p99 = _quantile(totals, 0.99)
    parts = []
    for label, values in (
        ("queue", [t.queue for t in timings if t.queue is not None]),
        ("before the request", [t.before for t in timings if t.before is not None]),
        ("QBO", [t.qbo for t in timings]),
    ):
        if values:
            parts.append(
                f"{label} p50 {_ms(_quantile(values, 0.5))} / p99 {_ms(_quantile(values, 0.99))}"
            )
    queues = [t.queue for t in timings if t.queue is not None]
    slow_queue = sum(1 for q in queues if q > SLOW_QUEUE_SECONDS)
    parts.append(f"queue over {SLOW_QUEUE_SECONDS * 1000:.0f} ms: {slow_queue}")
    return (
        f"{name}: {len(totals)} events in {seconds:.0f} s ({len(totals) / max(seconds, 1):.1f}/s)"
        f", event -> QBO p50 {_ms(_quantile(totals, 0.5))} ms, p95 "
        f"{_ms(_quantile(totals, 0.95))} ms, p99 {_ms(p99)} ms, max {_ms(max(totals))} ms "
        f"(goal p99 <= {LATENCY_MS} + {GOAL_EXTRA_MS} = {LATENCY_MS + GOAL_EXTRA_MS} ms: "
        f"{'met' if p99 <= goal else 'NOT met'}); split (ms): {'; '.join(parts)}; "
        f"{missing} events without a measured create"
    )


def _in_window(events: list[Event], start: float, end: float) -> list[Event]:
    return [e for e in events if e.answered is not None and start <= e.answered <= end]


async def _run(size: str) -> list[str]:
    knobs = SIZES[size]
    n_orders, n_customers, n_products = knobs["orders"], knobs["customers"], knobs["products"]
    rate = knobs["rate"]
    lanes = os.environ.get("RENTSYNC_BENCH_LANES", "split")
    rng = random.Random(SEED)
    rows: list[str] = []
    peak_connections = 0
    async with process_rig(
        max_connections=MAX_CONNECTIONS, extra_env={"RENTSYNC_WORKER_LANES": lanes}
    ) as rig:
        by_name = {s.name: s for s in rig.rentsync}
        if rig.emulator is not None:
            by_name[rig.emulator.name] = rig.emulator
        # Company 0: its whole history before it connects (R14), for the bulk sync.
        bulk_puts: list[tuple[str, str, Any]] = [
            ("customers", f"C-{n}", customer_body(n)) for n in range(n_customers)
        ]
        bulk_puts += [("products", f"P-{n}", product_body(n)) for n in range(n_products)]
        bulk_puts += [
            ("orders", f"O-{n}", order_body(n, n_customers, n_products)) for n in range(n_orders)
        ]

        async def history(api: httpx2.AsyncClient) -> None:
            await _put_all(api, bulk_puts)

        setup_started = time.monotonic()
        bulk_company = await rig.add_company(
            "Bulk Rentals", limits=True, latency_ms=LATENCY_MS, before_connecting=history
        )
        catalogue: list[tuple[str, str, Any]] = [
            ("customers", f"C-{n}", customer_body(n)) for n in range(CUSTOMERS_EACH)
        ]
        catalogue += [("products", f"P-{n}", product_body(n)) for n in range(PRODUCTS_EACH)]
        # rentsync sends a customer or product to QBO when an order first needs it: one
        # warm-up order per customer, over every product, brings them all in.
        warm_up: list[tuple[str, str, Any]] = [
            ("orders", f"W-{n}", {**_event_body(n), "invoice_number": f"W-{n}"})
            for n in range(CUSTOMERS_EACH)
        ]
        names = [f"Realtime Rentals {n}" for n in range(1, knobs["companies"] + 1)]
        made = await _create_companies(rig, names)
        gate = asyncio.Semaphore(8)

        async def one(name: str, company_id: int, key: str) -> Company:
            async with gate:
                return await _connect_company(rig, name, company_id, key, catalogue, warm_up)

        companies = list(
            await asyncio.gather(*(one(n, c, k) for n, (c, k) in zip(names, made, strict=True)))
        )
        for company in companies:
            await _wait_settled(rig, company, within=600)
        setup_seconds = time.monotonic() - setup_started

        counter = [0]
        cpu_before = _cpu_now(rig, by_name)
        base_started = time.time()
        baseline = await _send_events(
            companies, rate, base_started + knobs["baseline_seconds"], counter, rng
        )
        base_ended = time.time()
        cpu_base = _cpu_now(rig, by_name)
        load_base = os.getloadavg()

        # The bulk sync, with the events going on.
        done = asyncio.Event()
        sender = asyncio.create_task(_send_events(companies, rate, done, counter, rng))
        qbo_before = await _qbo_documents(rig, bulk_company.realm)
        bulk_started, bulk_started_wall = time.monotonic(), time.time()
        response = await bulk_company.api.post(
            "/api/v1/bulk-syncs", json={"not_in_qbo": True, "start": True}
        )
        if response.status_code not in (200, 201, 202):
            raise RuntimeError(f"bulk sync: {response.status_code} {response.text[:300]}")
        bulk_id = response.json()["id"]
        state: dict[str, Any] = {}
        while time.monotonic() - bulk_started < 3600:
            rig.sample_rss()
            state = (await bulk_company.api.get(f"/api/v1/bulk-syncs/{bulk_id}")).json()
            [(connections,)] = await rig.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
            )
            peak_connections = max(peak_connections, int(connections))
            if state.get("state") in ("done", "cancelled", "failed"):
                break
            await asyncio.sleep(1.0)
        done.set()
        during_all = await sender
        cpu_during, during_ended = _cpu_now(rig, by_name), time.time()
        load_during = os.getloadavg()
        await _wait_events_settled(rig, baseline + during_all, within=600)
        [(first, last, bulk_requests, batches)] = await rig.sql(
            "SELECT extract(epoch FROM min(at)), extract(epoch FROM max(at)), count(*), "
            "count(*) FILTER (WHERE path LIKE %s) FROM qbo_log WHERE company_id = %s "
            "AND at >= to_timestamp(%s)",
            "%/batch?%",
            bulk_company.company_id,
            bulk_started_wall,
        )
        created = await _qbo_documents(rig, bulk_company.realm) - qbo_before
        first, last = float(first), float(last)
        bulk_seconds = max(last - first, 1e-9)
        during = _in_window(during_all, first, last)
        base_timings, base_missing = await _timings(rig, baseline)
        during_timings, during_missing = await _timings(rig, during)
        [(throttled,)] = await rig.sql("SELECT count(*) FROM qbo_log WHERE status = 429")
        refused = 0
        for company in [bulk_company, *companies]:
            refused += sum((await rig.refused(company.realm)).values())

    def cpu(after: dict[str, float | None], before: dict[str, float | None], secs: float) -> str:
        shares = []
        for name in sorted(after):
            a, b = after[name], before.get(name)
            if a is not None and b is not None:
                shares.append(f"{name} {(a - b) / secs:.2f}")
        return ", ".join(shares)

    base_seconds = base_ended - base_started
    rows.append(
        f"size {size}: {knobs['companies']} companies at {rate} order events/s in all (each an "
        f"invoice create: their customers and products already in QBO), company 0 bulk-syncs "
        f"{n_orders} orders over {n_customers} customers and {n_products} products (all sent "
        f"before it connected); {LATENCY_MS} ms latency and QBO's real limits on every company; "
        f"1 worker (concurrency 10, --lanes {lanes}), API and emulator separate processes; "
        "set-up "
        f"{setup_seconds:.0f} s; event -> QBO = the PUT's 2xx at the bench -> rentsync "
        f"receives QBO's 200 to the invoice create (QuickBooks log at + duration)"
    )
    rows.append(
        "P3  "
        + _describe("without a bulk sync (baseline)", base_timings, base_missing, base_seconds)
    )
    rows.append(
        "P3  "
        + _describe(
            f"during the bulk sync ({len(during)} of {len(during_all)} events fell between its "
            "first and last QBO request)",
            during_timings,
            during_missing,
            bulk_seconds,
        )
    )
    base_p99 = _quantile([t.total for t in base_timings], 0.99)
    during_p99 = _quantile([t.total for t in during_timings], 0.99)
    rows.append(
        f"P3  p99 during / baseline = {during_p99 / base_p99:.2f}; bulk sync meanwhile ("
        f"state {state.get('state')}): {created} QBO documents in {bulk_seconds:.0f} s = "
        f"{created / bulk_seconds * 60:.0f} documents/min, {bulk_requests} requests "
        f"({batches} batches); 429 answers, all companies: {throttled} (emulator: {refused}); "
        f"peak PostgreSQL connections {peak_connections} (max_connections {MAX_CONNECTIONS})"
    )
    rows.append(
        "P3  CPU seconds per second (baseline | during): "
        f"{cpu(cpu_base, cpu_before, base_seconds)} | "
        f"{cpu(cpu_during, cpu_base, during_ended - base_ended)}; load average "
        f"{load_base[0]:.1f} | {load_during[0]:.1f} (2 cores)"
    )
    return rows


def main() -> None:
    size = os.environ.get("RENTSYNC_BENCH_SIZE", "small")
    if size not in SIZES:
        raise SystemExit(f"RENTSYNC_BENCH_SIZE must be one of {', '.join(SIZES)}")
    for row in asyncio.run(_run(size)):
        print(f"  {row}")


if __name__ == "__main__":
    main()
