"""`rentsync bulk-sync`: preview a bulk sync in the terminal, confirm it, and follow it with a
progress bar (rate and ETA). The same services as the API (`sync.bulk`); the loop that hands
documents to the sync runs in this process while it follows the run, and in the workers as well
(one at a time), so closing the terminal does not stop the bulk sync: `--cancel ID` does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from rentsync import jobs
from rentsync.bootstrap import Services
from rentsync.domain.bulk import Planned, Selection, State, kinds_text, pace_of
from rentsync.store.bulk_syncs import PHASE_REFERENCES, BulkSyncRow
from rentsync.sync.bulk import BulkSyncRefused, Report

FOLLOW_SECONDS = 0.5
SHOWN_PER_OUTCOME = 10
_ENDED = {State.DONE, State.CANCELLED}


async def start_preview(services: Services, company_id: int, selection: Selection) -> BulkSyncRow:
    """Create the bulk sync and preview it in this process (a worker may take part)."""
    if await services.companies.get(company_id) is None:
        raise BulkSyncRefused(f"No company {company_id}; see `rentsync company list`.")
    bulk = await services.bulk_syncs.create(company_id, selection, start_when_previewed=False)
    await services.bulk_syncs.run(bulk.id)
    return await _wait_for(services, bulk.id, lambda row: row.state != State.PREVIEWING)


async def _wait_for(
    services: Services, bulk_id: int, done: Callable[[BulkSyncRow], bool]
) -> BulkSyncRow:
    while True:
        row = await services.bulk_syncs.repository.get(bulk_id)
        assert row is not None
        if done(row):
            return row
        await asyncio.sleep(FOLLOW_SECONDS)


async def show_preview(services: Services, bulk: BulkSyncRow, console: Console) -> None:
    report = await services.bulk_syncs.report(bulk)
    table = Table(title=f"Bulk sync {bulk.id}: preview of {bulk.items} documents")
    table.add_column("outcome")
    table.add_column("documents", justify="right")
    for planned, label in (
        (Planned.CREATE, "created in QuickBooks"),
        (Planned.UPDATE, "updated in QuickBooks"),
        (Planned.SKIP, "skipped"),
        (Planned.FAIL, "would fail"),
    ):
        table.add_row(label, str(report.planned(planned)))
    console.print(table)
    console.print(f"By kind: {kinds_text(bulk.kinds)}.")
    for planned in (Planned.FAIL, Planned.SKIP):
        rows = await services.bulk_syncs.repository.items(
            bulk.id, planned=planned, limit=SHOWN_PER_OUTCOME
        )
        for row in rows:
            what = row.source_id if row.doc_type == "order" else f"{row.doc_type} {row.source_id}"
            console.print(f"  {planned.value:<5} {what}: {row.message}")
        if len(rows) == SHOWN_PER_OUTCOME and report.planned(planned) > SHOWN_PER_OUTCOME:
            console.print(f"  ... {report.planned(planned) - SHOWN_PER_OUTCOME} more {planned}")
    minutes, seconds = divmod(round(report.estimated.total_seconds()), 60)
    console.print(
        f"QuickBooks calls: {report.calls} ({bulk.estimated_calls} operations, in batches); "
        f"about {minutes} min {seconds} s (an order's payments wait for its invoice, a "
        f"vendor's documents for one another; {report.ceiling})."
    )


async def confirm(services: Services, company_id: int, bulk_id: int) -> BulkSyncRow:
    started = await services.bulk_syncs.start(company_id, bulk_id)
    await jobs.defer_bulk_sync(services.job_app, bulk_id)
    return started


async def cancel(services: Services, company_id: int, bulk_id: int, console: Console) -> None:
    await services.bulk_syncs.cancel(company_id, bulk_id)
    console.print(
        f"Bulk sync {bulk_id} cancelled: no more documents are sent; those already in the sync "
        "finish their own sync."
    )


async def follow(services: Services, bulk: BulkSyncRow, console: Console) -> Report:
    """A progress bar until the run is done (or cancelled) and nothing of it is in the sync."""
    if not await _live_workers(services):
        console.print(
            "[yellow]No worker is running: the documents wait in the queue until `rentsync "
            "worker` (or `rentsync serve`) runs.[/yellow]"
        )
    runner = asyncio.create_task(services.bulk_syncs.run(bulk.id))
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} documents/min"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task(f"bulk sync {bulk.id}", total=bulk.items, rate="-")
            while True:
                row = await services.bulk_syncs.repository.get(bulk.id)
                assert row is not None
                report = await services.bulk_syncs.report(row)
                progress = report.progress
                description = f"bulk sync {bulk.id}"
                if row.phase == PHASE_REFERENCES and report.references:
                    description += (
                        f" (customers and products first: {report.references_settled}/"
                        f"{report.references})"
                    )
                bar.update(
                    task,
                    description=description,
                    completed=progress.finished,
                    rate=_rate(row, report),
                )
                if row.state in _ENDED and progress.in_sync == 0:
                    break
                await asyncio.sleep(FOLLOW_SECONDS)
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    console.print(_summary(report))
    return report


def _rate(row: BulkSyncRow, report: Report) -> str:
    pace = pace_of(report.progress, started_at=row.started_at, now=datetime.now(UTC))
    return "-" if pace.per_minute is None else f"{pace.per_minute:.0f}"


def _summary(report: Report) -> str:
    progress = report.progress
    text = (
        f"Bulk sync {report.bulk.id} {report.bulk.state}: {progress.created} created, "
        f"{progress.updated} updated, {progress.skipped} skipped, {progress.failed} failed"
    )
    if progress.waiting:
        text += f", {progress.waiting} not sent"
    if progress.changed_since_preview:
        text += (
            f"; {progress.changed_since_preview} changed since the preview (sent as they are now)"
        )
    if progress.differs_from_preview:
        text += f"; {progress.differs_from_preview} ended otherwise than the preview said"
    return text + "."


async def _live_workers(services: Services) -> int:
    async with services.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM procrastinate_workers "
            "WHERE last_heartbeat > now() - make_interval(secs => %s)",
            (services.settings.stalled_after_seconds,),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0
