"""The console's dashboard figures, company-scoped and bounded: documents by kind and state,
outcomes and event -> QBO latency per hour (from the history of attempts), and queue depth.

Latency is measured from `sync_attempts.pending_since` (when the oldest change still waiting
was stored: the PUT or resync that scheduled it, kept through retries) to the attempt's
`finished_at` (when the ledger recorded QBO's answer), for attempts that ended synced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from rentsync.store.documents import BULK_SYNC_QUEUE, SYNC_QUEUE


@dataclass(frozen=True, kw_only=True)
class StateCount:
    doc_type: str
    state: str
    """A ledger state, or `not_synced` for a document with no ledger row yet."""
    count: int


@dataclass(frozen=True, kw_only=True)
class HourFigures:
    hour: datetime
    synced: int
    failed: int
    skipped: int
    latency_p50_seconds: float | None
    latency_p95_seconds: float | None


@dataclass(frozen=True, kw_only=True)
class QueueDepth:
    waiting: int
    """Sync jobs of this company not started yet (some may be scheduled for a retry)."""
    running: int


class OverviewRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def counts(self, company_id: int) -> list[StateCount]:
        """Documents per kind and state (deleted ones included: their deletion syncs too)."""
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(StateCount)) as cur,
        ):
            await cur.execute(
                "SELECT d.doc_type, coalesce(r.state, 'not_synced') AS state, count(*) AS count "
                "FROM documents d LEFT JOIN sync_records r "
                "ON r.company_id = d.company_id AND r.doc_type = d.doc_type "
                "AND r.source_id = d.source_id "
                "WHERE d.company_id = %s GROUP BY 1, 2 ORDER BY 1, 2",
                (company_id,),
            )
            return await cur.fetchall()

    async def hourly(self, company_id: int, *, since: datetime) -> list[HourFigures]:
        """Outcomes per hour since `since` (hours with none are absent), and the latency
        percentiles of the hour's synced outcomes."""
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(HourFigures)) as cur,
        ):
            await cur.execute(
                "SELECT date_trunc('hour', finished_at) AS hour, "
                "count(*) FILTER (WHERE state = 'synced') AS synced, "
                "count(*) FILTER (WHERE state = 'failed') AS failed, "
                "count(*) FILTER (WHERE state = 'skipped') AS skipped, "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM "
                "finished_at - pending_since)) FILTER (WHERE state = 'synced' "
                "AND pending_since IS NOT NULL) AS latency_p50_seconds, "
                "percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM "
                "finished_at - pending_since)) FILTER (WHERE state = 'synced' "
                "AND pending_since IS NOT NULL) AS latency_p95_seconds "
                "FROM sync_attempts WHERE company_id = %s AND finished_at >= %s "
                "AND state IN ('synced', 'failed', 'skipped') GROUP BY 1 ORDER BY 1",
                (company_id, since),
            )
            return await cur.fetchall()

    async def queue_depth(self, company_id: int) -> QueueDepth:
        """This company's sync jobs waiting and running (procrastinate's table, read only)."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'todo'), "
                "count(*) FILTER (WHERE status = 'doing') FROM procrastinate_jobs "
                "WHERE status IN ('todo', 'doing') AND queue_name = ANY(%s) "
                "AND args ->> 'company_id' = %s",
                ([SYNC_QUEUE, BULK_SYNC_QUEUE], str(company_id)),
            )
            row = await cursor.fetchone()
        assert row is not None
        return QueueDepth(waiting=int(row[0]), running=int(row[1]))
