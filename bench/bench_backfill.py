"""A first backfill through the bulk sync at zero latency (issue 13, P6 and the bulk half of P4).

Every part is its own process (`bench/rig.py`): PostgreSQL, `qbo-emulator serve` with limits off
and no latency, `rentsync serve --no-worker` and one `rentsync worker` (concurrency 10). The
orders, their customers and products are sent through the public API before QuickBooks is
connected (R14's backlog); then one bulk sync of everything not in QBO is previewed, confirmed
and run (`POST /api/v1/bulk-syncs`, `.../start`). It prints:

- P6: the peak resident memory (VmHWM, the kernel's own high-water mark) of every rentsync
  process, and its resident set after the ingest, after the preview and at the end (what grows
  with the backfill shows there); goal <= 300 MB at 100,000 orders;
- the preview's time for the whole selection;
- the run: QBO documents per second and CPU seconds per document of each process (rentsync
  serve, worker, the emulator, PostgreSQL with its backends), from /proc/<pid>/stat, which hold
  on a loaded machine where wall-clock does not.

`RENTSYNC_BENCH_BACKFILL=full` runs the issue's 100,000 orders (1,000 customers, 100 products;
several minutes of ingest alone); the default (`work`, 5,000 orders: the size of P1's work) keeps
`make bench` short and prints P4 for the bulk path; `small` is 2,000 orders;
`RENTSYNC_BENCH_BACKFILL=<number>` any other count of orders. `RENTSYNC_BENCH_BACKFILL_PAID=1`
gives every order a payment (every third refunded in part): a bulk sync of every kind, where a
payment waits for its order's invoice under the order's lock. Every run prints the preview's
estimate beside the run's time and requests (B5).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx2

from bench.bench_ceiling import customer_body, order_body, product_body
from bench.rig import Meter, Rig, embedded_by_default, process_rig

REAL_LIMIT = 500
REAL_LATENCY_MS = 150
SIZES = {"tiny": 200, "small": 2_000, "work": 5_000, "full": 100_000}
PUTS_IN_FLIGHT = 32
POLL_SECONDS = 1.0


async def _put_all(api: httpx2.AsyncClient, puts: list[tuple[str, str, dict[str, Any]]]) -> None:
    queue = iter(puts)

    async def sender() -> None:
        for plural, source_id, body in queue:
            response = await api.put(f"/api/v1/{plural}/{source_id}", json=body)
            if response.status_code not in (200, 202):
                raise RuntimeError(f"PUT {plural}/{source_id}: {response.status_code}")

    await asyncio.gather(*(sender() for _ in range(PUTS_IN_FLIGHT)))


async def _until(
    rig: Rig, api: httpx2.AsyncClient, bulk_id: int, states: set[str]
) -> dict[str, Any]:
    while True:
        rig.sample_rss()
        state = (await api.get(f"/api/v1/bulk-syncs/{bulk_id}")).json()
        if state.get("state") in states:
            return dict(state)
        await asyncio.sleep(POLL_SECONDS)


def payment_body(n: int) -> dict[str, Any]:
    """A card payment on order O-n (every order costs at least 5.50), every third refunded
    in part."""
    refunds = [{"id": "RF-1", "amount": "1.00", "date": "2026-11-25", "method": "card"}]
    return {
        "order_id": f"O-{n}",
        "amount": "5.00",
        "date": "2026-11-21",
        "method": "card",
        "reference_number": f"AUTH-{n}",
        "refunds": refunds if n % 3 == 0 else [],
    }


async def _run(n_orders: int, *, paid: bool, real_qbo: bool) -> list[str]:
    qbo = (
        f"QBO's real limits and {REAL_LATENCY_MS} ms latency"
        if real_qbo
        else "zero latency, limits off"
    )
    n_customers = min(1_000, max(10, n_orders // 100))
    n_products = min(100, max(5, n_orders // 1_000))
    puts = [("customers", f"C-{n}", customer_body(n)) for n in range(n_customers)]
    puts += [("products", f"P-{n}", product_body(n)) for n in range(n_products)]
    puts += [("orders", f"O-{n}", order_body(n, n_customers, n_products)) for n in range(n_orders)]
    if paid:
        puts += [("payments", f"PAY-{n}", payment_body(n)) for n in range(n_orders)]
    # rentsync's embedded PostgreSQL by default, as it configures it (its bulk lane's default
    # follows the server's connections); RENTSYNC_BENCH_PG=external: a server of the rig's own.
    async with process_rig(
        requests_per_minute=REAL_LIMIT if real_qbo else 1_000_000, embedded=embedded_by_default()
    ) as rig:
        meter = Meter(rig)
        meter.mark("start")
        ingest: dict[str, float] = {}

        async def send(api: httpx2.AsyncClient) -> None:
            started = time.monotonic()
            await _put_all(api, puts)
            ingest["seconds"] = time.monotonic() - started

        company = await rig.add_company(
            "Backfill Rentals",
            limits=real_qbo,
            latency_ms=REAL_LATENCY_MS if real_qbo else 0,
            before_connecting=send,
        )
        # The ingest's own sync jobs (each order skipped: not connected, or created before the
        # connection, R14) drain first, so the run's figures are the bulk sync's alone.
        while True:
            [(open_jobs,)] = await rig.sql(
                "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'sync' "
                "AND status IN ('todo', 'doing')"
            )
            if not open_jobs:
                break
            await asyncio.sleep(0.2)
        meter.mark("ingested")
        api = company.api

        started = time.monotonic()
        created = await api.post("/api/v1/bulk-syncs", json={"not_in_qbo": True})
        if created.status_code != 202:
            raise RuntimeError(f"bulk sync: {created.status_code} {created.text[:300]}")
        bulk_id = int(created.json()["id"])
        previewed = await _until(rig, api, bulk_id, {"previewed", "cancelled", "done"})
        preview_seconds = time.monotonic() - started
        await rig.analyze()  # as a database that has lived a minute has (`Rig.analyze`)
        meter.mark("previewed")
        await rig.statements(reset=True)

        [(started_at,)] = await rig.sql("SELECT now()")
        started = time.monotonic()
        confirmed = await api.post(f"/api/v1/bulk-syncs/{bulk_id}/start")
        if confirmed.status_code not in (200, 202):
            raise RuntimeError(f"start: {confirmed.status_code} {confirmed.text[:300]}")
        done = await _until(rig, api, bulk_id, {"done", "cancelled"})
        run_seconds = time.monotonic() - started
        meter.mark("done")
        await rig.statements()
        books = await rig.books(company.realm)
        entities = books.get("entities", {})
        in_qbo = {
            name: len(entities.get(name, {}))
            for name in ("Customer", "Item", "Invoice", "Payment", "RefundReceipt")
        }
        [(requests, batches)] = await rig.sql(
            "SELECT count(*), count(*) FILTER (WHERE path LIKE %s) FROM qbo_log "
            "WHERE company_id = %s",
            "%/batch?%",
            company.company_id,
        )
        # The sync's own span, to the millisecond: its first request to QBO to its last answer
        # (the run above also holds the bench's 1 s poll and the run's settling after).
        [(span,)] = await rig.sql(
            "SELECT extract(epoch FROM max(at + duration_ms * interval '1 millisecond') "
            "- min(at)) FROM qbo_log WHERE company_id = %s AND at >= %s",
            company.company_id,
            started_at,
        )
        load = os.getloadavg()
        peaks = dict(rig.peaks)

    documents = sum(in_qbo.values())
    preview = previewed["preview"]
    cpu = meter.cpu_between("previewed", "done")
    ingest_cpu = meter.cpu_between("start", "ingested")
    rows = [
        f"{n_orders:,} orders over {n_customers:,} customers and {n_products} products"
        f"{', each paid (a third refunded in part),' if paid else ''} sent "
        f"before the connection ({ingest['seconds']:.0f} s, {len(puts) / ingest['seconds']:.0f} "
        f"PUTs/s); then one bulk sync of everything not in QBO; {qbo}; 1 "
        f"worker (concurrency 10), every part its own process; load at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores",
        f"preview of {preview['documents']:,} documents ({preview['orders']:,} orders and "
        f"quotes; {preview['by_kind']}): {preview_seconds:.1f} s "
        f"({preview['documents'] / max(preview_seconds, 0.001):.0f} documents/s); planned "
        + ", ".join(f"{k} {preview[k]}" for k in ("create", "update", "skip", "fail")),
        f"run: {documents:,} QBO documents ({in_qbo}) in {run_seconds:.0f} s = "
        f"{documents / run_seconds:.0f} documents/s wall-clock; {requests:,} requests "
        f"({batches} batches); state {done['state']}, progress {done['progress']}",
        f"the sync's span (its first request to QBO to its last answer): {float(span):.2f} s = "
        f"{documents / max(float(span), 0.001):.0f} documents/s",
        f"the preview's estimate against the run: {preview['estimated_seconds']:.1f} s "
        f"estimated, {run_seconds:.0f} s run "
        f"({run_seconds / max(preview['estimated_seconds'], 0.1):.2f}x); "
        f"{preview['qbo_calls']:,} requests estimated, {requests:,} sent "
        f"(the estimate takes QuickBooks' round trip as 0.5 s; this emulator's: {qbo})",
        "run, CPU seconds per QBO document: "
        + ", ".join(
            f"{who} {seconds / max(documents, 1) * 1000:.2f} ms" for who, seconds in cpu.items()
        )
        + f"; all {sum(cpu.values()) / max(documents, 1) * 1000:.2f} ms -> at most "
        f"{max(documents, 1) / max(sum(cpu.values()), 0.001) * (os.cpu_count() or 1):.0f} "
        f"documents/s on {os.cpu_count()} idle cores",
        "ingest, CPU seconds per PUT: "
        + ", ".join(
            f"{who} {seconds / len(puts) * 1000:.2f} ms" for who, seconds in ingest_cpu.items()
        ),
        f"P4  bulk path, QBO documents/s wall-clock, {n_orders:,} orders, zero latency, limits "
        f"off (goal >= 400/s): {documents / run_seconds:.0f}/s from the confirm to done "
        f"({documents / max(float(span), 0.001):.0f}/s over the sync's span); at most "
        f"{max(documents, 1) / max(sum(cpu.values()), 0.001) * (os.cpu_count() or 1):.0f}/s by "
        "CPU on idle cores",
        "P6  peak RSS (VmHWM): "
        + ", ".join(f"{name} {mb:.0f} MB" for name, mb in sorted(peaks.items()))
        + " (goal <= 300 MB); resident after ingest / preview / run: "
        + "; ".join(
            f"{name} "
            + " / ".join(
                f"{meter.rss[mark].get(name, 0):.0f}" for mark in ("ingested", "previewed", "done")
            )
            + " MB"
            for name in sorted(peaks)
        ),
    ]
    return rows


def main() -> None:
    size = os.environ.get("RENTSYNC_BENCH_BACKFILL", "work")
    n_orders = SIZES.get(size) or (int(size) if size.isdigit() else 0)
    if n_orders <= 0:
        raise SystemExit(f"RENTSYNC_BENCH_BACKFILL must be one of {', '.join(SIZES)} or a number")
    paid = os.environ.get("RENTSYNC_BENCH_BACKFILL_PAID", "") not in ("", "0")
    real_qbo = os.environ.get("RENTSYNC_BENCH_BACKFILL_QBO", "") == "real"
    for row in asyncio.run(_run(n_orders, paid=paid, real_qbo=real_qbo)):
        print(f"  {row}")


if __name__ == "__main__":
    main()
