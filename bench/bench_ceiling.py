"""Backfill at QuickBooks' rate ceiling (issue 13): P1, P2, P5 and P6 side by side with their goals.

Every part is its own process (`bench/rig.py`): PostgreSQL, `qbo-emulator serve` with QBO's
real limits and a fixed latency, `rentsync serve --no-worker` and one `rentsync worker`.

- P1: a first backfill (customers, products, orders over them) into an empty QBO company, QBO
  documents created per minute divided by the ceiling QBO allows for that work, and the count of
  requests answered 429 (rentsync's QuickBooks log and the emulator's own count). The ceiling:
  single requests, 500 a minute per realm, one document each, so 500 documents a minute; with
  batches (30 items, 40 a minute per realm and app, each one request of the 500) it would be
  40 x 30 + 460 = 1,660. The ratio is taken against the ceiling of the way the documents went.
- P2: the same work by the naive sequential python-quickbooks script (`bench/naive.py`) against
  another company of the same emulator, in the same run. The script runs its first orders (as
  many as fit in `NAIVE_SECONDS`; `RENTSYNC_BENCH_NAIVE_ORDERS=<n>|all` for more), which gives
  its time per request of each kind; its time for the whole work is the requests the whole work
  costs it (counted by its own rules) at those times, since it sends one request at a time
  (`naive.project`). The first orders' own rate is printed beside it: they are mostly first
  sightings (creates, each a document), so that rate overstates the script on the whole work.
- P5: QBO calls per document: in the first backfill (requests / documents created) and in steady
  state (new orders for customers and products already in QBO).
- P6: the peak resident memory (VmHWM) of every rentsync process during the run.

`RENTSYNC_BENCH_SIZE=full` runs the issue's sizes (5,000 orders over 1,000 customers and 100
products, about 13 minutes at the single-request ceiling); the default (`small`) is a fifth of
that; `tiny` checks the bench itself.
P1 runs twice: through the real-time sync (PUT -> job, single requests) and through the bulk
sync (`POST /api/v1/bulk-syncs`, everything sent before the connection, QBO batches; its row
also gives the average batch size, the preview's estimate and P2 for the bulk path).
`RENTSYNC_BENCH_ONLY=bulk` runs only the naive script and the bulk path (the worker's bulk lane
takes `RENTSYNC_BULK_CONCURRENCY` from the environment; unset, rentsync's default, derived from
the server's connections). rentsync runs on its embedded PostgreSQL as it configures it (no
DATABASE_URL); `RENTSYNC_BENCH_PG=external` on a PostgreSQL of the rig's own with 300
connections instead (the first line says which, its max_connections, the bulk lane and the peak
client connections during the bulk sync). P3 (event latency of 100 other
companies during a bulk sync) is `bench_fairness.py`; P6 at 100,000 orders: not measured yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from decimal import Decimal
from typing import Any

import httpx2
import psutil

from bench import naive
from bench.rig import Company, Rig, embedded_by_default, process_rig

LATENCY_MS = 150
SIZES = {
    "tiny": {"orders": 100, "customers": 20, "products": 5},  # a quick check of the bench itself
    "small": {"orders": 1_000, "customers": 200, "products": 20},
    "full": {"orders": 5_000, "customers": 1_000, "products": 100},
}
STEADY_ORDERS = 100
NAIVE_SECONDS = 60.0
PUTS_IN_FLIGHT = 20
SINGLE_CEILING = 500  # documents a minute: one request each, 500 requests a minute per realm
BATCH_CEILING = 40 * 30 + (500 - 40)


def customer_body(n: int) -> dict[str, Any]:
    return {"name": f"Ceiling Customer {n}", "email": f"c{n}@ceiling.example"}


def product_body(n: int) -> dict[str, Any]:
    kinds = ("rental", "service", "fee")
    return {
        "name": f"Ceiling Product {n}",
        "kind": kinds[n % 3],
        "rate": f"{5 + n % 40}.50",
        "taxable": n % 3 == 0,
    }


def order_body(n: int, customers: int, products: int) -> dict[str, Any]:
    picked = dict.fromkeys([n % products, (n * 7 + 3) % products])
    lines = []
    total = Decimal("0.00")
    for index, product in enumerate(picked):
        quantity = Decimal(1 + (n + index) % 9)
        rate = Decimal(product_body(product)["rate"])
        amount = quantity * rate
        total += amount
        lines.append(
            {
                "product_id": f"P-{product}",
                "quantity": str(quantity),
                "rate": str(rate),
                "amount": str(amount),
            }
        )
    return {
        "kind": "order",
        "customer_id": f"C-{n % customers}",
        "invoice_number": str(200000 + n),
        "invoice_date": "2026-11-20",
        "lines": lines,
        "totals": {"subtotal": str(total), "discount": "0.00", "tax": "0.00", "total": str(total)},
    }


async def _put_all(api: httpx2.AsyncClient, puts: list[tuple[str, str, dict[str, Any]]]) -> None:
    gate = asyncio.Semaphore(PUTS_IN_FLIGHT)

    async def one(plural: str, source_id: str, body: dict[str, Any]) -> None:
        async with gate:
            response = await api.put(f"/api/v1/{plural}/{source_id}", json=body)
            if response.status_code not in (200, 202):
                raise RuntimeError(f"PUT {plural}/{source_id}: {response.status_code}")

    await asyncio.gather(*(one(*put) for put in puts))


async def _wait_settled(rig: Rig, company: Company, within: float) -> None:
    """Until no document of the company is waiting or in the sync (failures end the wait)."""
    deadline = time.monotonic() + within
    while True:
        rig.sample_rss()
        [(open_docs, failed)] = await rig.sql(
            "SELECT count(*) FILTER (WHERE r.state IS NULL OR r.state = 'pending' "
            "OR (r.state = 'synced' AND r.synced_revision < d.revision)), "
            "count(*) FILTER (WHERE r.state = 'failed') "
            "FROM documents d LEFT JOIN sync_records r USING (company_id, doc_type, source_id) "
            "WHERE d.company_id = %s",
            company.company_id,
        )
        if open_docs == 0:
            if failed:
                print(f"  ! {failed} documents failed")
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{open_docs} documents still open after {within:.0f} s")
        await asyncio.sleep(0.5)


async def _qbo_documents(rig: Rig, realm: str) -> int:
    books = await rig.books(realm)
    entities = books.get("entities", {})
    return sum(len(entities.get(name, {})) for name in ("Customer", "Item", "Invoice"))


async def _requests_since(rig: Rig, company: Company, since: float) -> tuple[int, int]:
    [(total, throttled)] = await rig.sql(
        "SELECT count(*), count(*) FILTER (WHERE status = 429) FROM qbo_log "
        "WHERE company_id = %s AND at >= to_timestamp(%s)",
        company.company_id,
        since,
    )
    return int(total), int(throttled)


BULK_QUEUE = "sync_bulk"
LANE_SQL = (
    "SELECT count(*) FILTER (WHERE status = 'doing'), count(*) FILTER (WHERE status = 'todo') "
    "FROM procrastinate_jobs WHERE queue_name = %s"
)
TIMELINE_SECONDS = 5
TIMELINE_SQL = """
WITH log AS (
    SELECT floor(extract(epoch FROM at - to_timestamp(%(since)s)) / %(step)s)::int AS slot,
           path LIKE '%%/batch?%%' AS batch,
           method = 'GET' AND path LIKE '%%/query?%%' AS query,
           (length(request_body) - length(replace(request_body, '"bId"', ''))) / 5 AS items
    FROM qbo_log WHERE company_id = %(company)s AND at >= to_timestamp(%(since)s)
), jobs AS (
    SELECT floor(extract(epoch FROM s.at - to_timestamp(%(since)s)) / %(step)s)::int AS slot,
           extract(epoch FROM f.at - s.at) AS seconds
    FROM procrastinate_jobs j
    JOIN procrastinate_events s ON s.job_id = j.id AND s.type = 'started'
    JOIN procrastinate_events f ON f.job_id = j.id AND f.type IN ('succeeded', 'failed')
    WHERE j.queue_name = %(queue)s AND s.at >= to_timestamp(%(since)s)
)
SELECT slot,
       (SELECT count(*) FILTER (WHERE batch) FROM log l WHERE l.slot = s.slot),
       (SELECT coalesce(sum(items) FILTER (WHERE batch), 0) FROM log l WHERE l.slot = s.slot),
       (SELECT count(*) FILTER (WHERE NOT batch AND NOT query) FROM log l WHERE l.slot = s.slot),
       (SELECT count(*) FILTER (WHERE query) FROM log l WHERE l.slot = s.slot),
       (SELECT count(*) FROM jobs k WHERE k.slot = s.slot),
       (SELECT coalesce(avg(seconds), 0) FROM jobs k WHERE k.slot = s.slot)
FROM (SELECT slot FROM log UNION SELECT slot FROM jobs) s ORDER BY slot
"""


async def _timeline(
    rig: Rig, company: Company, since: float, lane: list[tuple[float, int, int]]
) -> list[str]:
    """Per 5 s of the bulk run (RENTSYNC_BENCH_TIMELINE=1): QBO requests by kind, the bulk
    lane's jobs started there and their average duration, its busy slots and waiting jobs."""
    rows = await rig.sql(
        TIMELINE_SQL,
        {
            "since": since,
            "step": TIMELINE_SECONDS,
            "company": company.company_id,
            "queue": BULK_QUEUE,
        },
    )
    lines = ["  t(s)  batches items  creates queries | jobs  job s | busy  todo"]
    for slot, batches, items, creates, queries, jobs, job_seconds in rows:
        sampled = [(d, t) for at, d, t in lane if slot <= at / TIMELINE_SECONDS < slot + 1]
        busy = sum(d for d, _ in sampled) / max(len(sampled), 1)
        todo = sum(t for _, t in sampled) / max(len(sampled), 1)
        lines.append(
            f"  {slot * TIMELINE_SECONDS:4d}  {batches:7d} {items:5d}  {creates:7d} {queries:7d}"
            f" | {jobs:4d} {job_seconds:6.2f} | {busy:4.0f} {todo:5.0f}"
        )
    return lines


async def _bulk_backfill(
    rig: Rig, puts: list[tuple[str, str, dict[str, Any]]], n_orders: int, naive_rate: float
) -> str:
    """P1 through the bulk sync: every document sent before the connection (R14), then one
    bulk sync of everything not in QBO, started without a separate confirmation."""

    async def send(api: httpx2.AsyncClient) -> None:
        await _put_all(api, puts)

    company = await rig.add_company(
        "Bulk Rentals", limits=True, latency_ms=LATENCY_MS, before_connecting=send
    )
    before = await _qbo_documents(rig, company.realm)
    started_wall, started = time.time(), time.monotonic()
    response = await company.api.post(
        "/api/v1/bulk-syncs", json={"not_in_qbo": True, "start": True}
    )
    if response.status_code not in (200, 201, 202):
        raise RuntimeError(f"bulk sync: {response.status_code} {response.text[:300]}")
    bulk_id = response.json()["id"]
    state: dict[str, Any] = {}
    lane: list[tuple[float, int, int]] = []
    while time.monotonic() - started < 3600:
        rig.sample_rss()
        [(doing, todo)] = await rig.sql(LANE_SQL, BULK_QUEUE)
        await rig.sample_connections()
        lane.append((time.monotonic() - started, int(doing), int(todo)))
        state = (await company.api.get(f"/api/v1/bulk-syncs/{bulk_id}")).json()
        if state.get("state") in ("done", "cancelled", "failed"):
            break
        await asyncio.sleep(1.0)
    seconds = time.monotonic() - started
    created = await _qbo_documents(rig, company.realm) - before
    requests, throttled = await _requests_since(rig, company, started_wall)
    [(batches, items)] = await rig.sql(
        "SELECT count(*), coalesce(sum((length(request_body) - "
        "length(replace(request_body, '\"bId\"', ''))) / 5), 0) FROM qbo_log "
        "WHERE company_id = %s AND at >= to_timestamp(%s) AND path LIKE %s",
        company.company_id,
        started_wall,
        "%/batch?%",
    )
    preview = state.get("preview") or {}
    refused = await rig.refused(company.realm)
    if os.environ.get("RENTSYNC_BENCH_TIMELINE"):
        for line in await _timeline(rig, company, started_wall, lane):
            print(line)
    per_minute = created / seconds * 60
    return (
        f"P1  bulk sync ({n_orders} orders, everything sent before the connection, R14; "
        f"state {state.get('state')}): {created} QBO documents in {seconds:.0f} s = "
        f"{per_minute:.0f} documents/min / ceiling {BATCH_CEILING} (batches) = "
        f"{per_minute / BATCH_CEILING:.2f}, / {SINGLE_CEILING} (single) = "
        f"{per_minute / SINGLE_CEILING:.2f} (goal >= 0.90); requests {requests} "
        f"({batches} batches of {int(items) / max(int(batches), 1):.1f} items on average, "
        f"{requests - int(batches)} single) = {requests / seconds * 60:.0f}/min; calls per "
        f"document created {requests / max(created, 1):.3f}; 429 answers {throttled} (emulator: "
        f"{sum(refused.values())} {refused or ''}) (goal 0); preview estimate "
        f"{preview.get('qbo_calls')} "
        f"requests ({preview.get('qbo_operations')} operations) in "
        f"{preview.get('estimated_seconds')} s; P2 bulk / naive on the same work = "
        f"{per_minute / naive_rate:.1f}x in documents (goal >= 10x; the most QBO's ceiling "
        f"allows: {BATCH_CEILING} / {naive_rate:.0f} = {BATCH_CEILING / naive_rate:.1f}x); "
        "bulk progress "
        f"{state.get('progress')}"
    )


async def _run(size: str) -> list[str]:
    counts = SIZES[size]
    n_orders, n_customers, n_products = counts["orders"], counts["customers"], counts["products"]
    customers = {f"C-{n}": customer_body(n) for n in range(n_customers)}
    products = {f"P-{n}": product_body(n) for n in range(n_products)}
    orders = [order_body(n, n_customers, n_products) for n in range(n_orders)]
    rows: list[str] = []
    lane = os.environ.get("RENTSYNC_BULK_CONCURRENCY")
    extra_env = {"RENTSYNC_BULK_CONCURRENCY": lane} if lane else None
    # rentsync's embedded PostgreSQL as it configures it (the default), or a server of the
    # rig's own with room for a wider bulk lane's pool (RENTSYNC_BENCH_PG=external).
    embedded = embedded_by_default()
    async with process_rig(
        extra_env=extra_env, max_connections=None if embedded else 300, embedded=embedded
    ) as rig:
        # P2 first, alone on the machine: the naive script on a company of its own.
        naive_company = await rig.add_company("Naive Rentals", limits=True, latency_ms=LATENCY_MS)
        budget = _naive_orders(len(orders))
        naive_run = await asyncio.to_thread(
            naive.run,
            rig.emulator_url,
            naive_company.realm,
            naive_company.accounts["income"],
            orders[:budget],
            customers,
            products,
        )
        if not naive_run.documents:
            raise RuntimeError(f"the naive script created nothing: {naive_run.first_error}")
        naive_same_work = naive.project(naive_run, naive.workload(orders, customers, products))
        naive_rate = naive_same_work.documents_per_minute
        naive_row = _naive_row(naive_run, naive_same_work)

        puts = [("customers", cid, body) for cid, body in customers.items()]
        puts += [("products", pid, body) for pid, body in products.items()]
        puts += [("orders", f"O-{n}", body) for n, body in enumerate(orders)]
        if os.environ.get("RENTSYNC_BENCH_ONLY") == "bulk":
            # Only the bulk path (the real-time path at the full size takes 13 minutes more).
            bulk_row = await _bulk_backfill(rig, puts, n_orders, naive_rate)
            rig.sample_rss()
            return [
                f"size {size}: {n_orders} orders over {n_customers} customers and {n_products} "
                f"products into an empty QBO company, {LATENCY_MS} ms latency, QBO's real "
                f"limits; 1 worker (real-time lane 10, bulk lane {_bulk_slots(rig)}"
                f"{' from RENTSYNC_BULK_CONCURRENCY' if lane else ', its default'}), API and "
                "emulator separate processes; the bulk path only (RENTSYNC_BENCH_ONLY=bulk); "
                f"{'the embedded' if embedded else 'an external'} PostgreSQL, max_connections "
                f"{await _max_connections(rig)}, peak client connections {rig.peak_connections}",
                bulk_row,
                naive_row,
                "P6  peak RSS (VmHWM) per rentsync process: "
                + ", ".join(f"{name} {mb:.0f} MB" for name, mb in sorted(rig.peaks.items())),
            ]

        company = await rig.add_company("Ceiling Rentals", limits=True, latency_ms=LATENCY_MS)
        before = await _qbo_documents(rig, company.realm)
        started_wall = time.time()
        started = time.monotonic()
        await _put_all(company.api, puts)
        put_seconds = time.monotonic() - started
        await _wait_settled(rig, company, within=3600)
        seconds = time.monotonic() - started
        created = await _qbo_documents(rig, company.realm) - before
        requests, throttled = await _requests_since(rig, company, started_wall)
        refused = await rig.refused(company.realm)
        per_minute = created / seconds * 60
        ratio = per_minute / SINGLE_CEILING

        steady_wall = time.time()
        steady = [order_body(n, n_customers, n_products) for n in range(n_orders, n_orders + 100)]
        await _put_all(
            company.api, [("orders", f"O-{n_orders + i}", b) for i, b in enumerate(steady)]
        )
        await _wait_settled(rig, company, within=600)
        steady_requests, steady_throttled = await _requests_since(rig, company, steady_wall)
        try:
            bulk_row = await _bulk_backfill(rig, puts, n_orders, naive_rate)
        except Exception as error:  # the other figures still count
            bulk_row = f"P1  bulk sync: not measured ({type(error).__name__}: {error})"
        rig.sample_rss()
        peaks = dict(rig.peaks)

    rows.append(
        f"size {size}: {n_orders} orders over {n_customers} customers and {n_products} products "
        f"into an empty QBO company, {LATENCY_MS} ms latency, QBO's real limits; 1 worker "
        f"(concurrency 10), API and emulator separate processes; P1 twice: every document through "
        f"the real-time sync (PUT -> job, single requests), then the same work into another "
        f"empty company through the bulk sync (QBO batches)"
    )
    rows.append(
        f"P1  real-time sync: {created} QBO documents in {seconds:.0f} s (PUTs took "
        f"{put_seconds:.0f} s): "
        f"{per_minute:.0f} documents/min / ceiling {SINGLE_CEILING} (single requests) = "
        f"{ratio:.2f} (goal >= 0.90); requests {requests} = {requests / seconds * 60:.0f}/min "
        f"of 500; 429 answers {throttled} (emulator: {sum(refused.values())} {refused or ''}) "
        f"(goal 0); batch ceiling for reference {BATCH_CEILING}/min"
    )
    naive_invoices = naive_same_work.invoices_per_minute
    invoices = n_orders / seconds * 60
    rows.append(bulk_row)
    rows.append(naive_row)
    rows.append(
        f"P2  real-time sync / naive on the same work = {per_minute / naive_rate:.1f}x in "
        f"documents, {invoices / naive_invoices:.1f}x in invoices ({invoices:.0f}/min against "
        f"{naive_invoices:.0f}/min) (goal >= 10x)"
    )
    rows.append(
        f"P5  QBO calls per document: first backfill {requests / max(created, 1):.3f} "
        f"({requests} requests / {created} documents created); steady state "
        f"{steady_requests / STEADY_ORDERS:.3f} ({steady_requests} requests / {STEADY_ORDERS} "
        f"new orders, 429: {steady_throttled}) (goal <= 1.05)"
    )
    rows.append(
        "P6  peak RSS (VmHWM) per rentsync process: "
        + ", ".join(f"{name} {mb:.0f} MB" for name, mb in sorted(peaks.items()))
        + f" (goal <= 300 MB; measured at size {size}, not the 100,000-order backfill)"
    )
    return rows


def _bulk_slots(rig: Rig) -> str:
    """The worker's bulk lane slots, from its bulk lane process's command line."""
    for name, pid in rig.processes().items():
        if name.endswith("bulk lane"):
            with contextlib.suppress(psutil.Error):
                command = psutil.Process(pid).cmdline()
                if "--bulk-concurrency" in command:
                    return str(command[command.index("--bulk-concurrency") + 1])
    return "?"


async def _max_connections(rig: Rig) -> int:
    [(limit,)] = await rig.sql("SELECT current_setting('max_connections')::int")
    return int(limit)


def _naive_orders(total: int) -> int:
    """How many of the orders the naive script really sends (the rest is projected)."""
    asked = os.environ.get("RENTSYNC_BENCH_NAIVE_ORDERS", "")
    if asked == "all":
        return total
    if asked:
        if not asked.isdigit() or int(asked) < 1:
            raise SystemExit("RENTSYNC_BENCH_NAIVE_ORDERS must be a positive number or 'all'")
        return min(int(asked), total)
    return max(1, int(NAIVE_SECONDS / (5 * LATENCY_MS / 1000)))


def _naive_row(measured: naive.NaiveRun, same_work: naive.Projection) -> str:
    work = same_work.workload
    sampled = measured.documents / measured.seconds * 60
    per_call = ", ".join(
        f"{kind} {measured.calls.get(kind, 0)} x {measured.seconds_per_call(kind) * 1000:.0f} ms"
        for kind in ("query", "create", "invoice")
    )
    return (
        f"P2  naive python-quickbooks, sequential: its first {measured.orders} orders sent: "
        f"{measured.documents} documents ({measured.invoices} invoices, {measured.errors} errors) "
        f"in {measured.seconds:.0f} s = {sampled:.0f} documents/min (requests: {per_call}); the "
        f"same work as rentsync ({work.orders} orders: {work.queries} look-ups, {work.creates} "
        f"customer/item creates, {work.invoices} invoices) at those times: "
        f"{same_work.seconds / 60:.1f} min = {same_work.documents_per_minute:.0f} documents/min, "
        f"{same_work.invoices_per_minute:.0f} invoices/min (P2's baseline)"
    )


def main() -> None:
    size = os.environ.get("RENTSYNC_BENCH_SIZE", "small")
    if size not in SIZES:
        raise SystemExit(f"RENTSYNC_BENCH_SIZE must be one of {', '.join(SIZES)}")
    for row in asyncio.run(_run(size)):
        print(f"  {row}")


if __name__ == "__main__":
    main()
