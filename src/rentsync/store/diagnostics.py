"""The diagnostic ping: a row the API writes and a worker completes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from rentsync.store import queue as queue_module


@dataclass(frozen=True, kw_only=True)
class Ping:
    id: int
    requested_at: datetime
    completed_at: datetime | None
    worker_name: str | None

    @property
    def state(self) -> str:
        return "done" if self.completed_at is not None else "queued"


class DiagnosticsRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def request(
        self,
        *,
        task_name: str,
        queue: str,
        hold_seconds: float = 0,
        lock: str | None = None,
        priority: int = 0,
    ) -> int:
        """Store a ping and schedule the job that completes it, in one transaction."""
        async with self._pool.connection() as conn, conn.transaction():
            cursor = await conn.execute("INSERT INTO diagnostic_pings DEFAULT VALUES RETURNING id")
            row = await cursor.fetchone()
            assert row is not None
            ping_id = int(row[0])
            await queue_module.defer_job(
                conn,
                queue_module.job_params(
                    task_name=task_name,
                    queue=queue,
                    args={"ping_id": ping_id, "hold_seconds": hold_seconds},
                    lock=lock,
                    priority=priority,
                ),
            )
        return ping_id

    async def complete(self, ping_id: int, *, worker_name: str | None) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE diagnostic_pings SET completed_at = now(), worker_name = %s "
                "WHERE id = %s AND completed_at IS NULL",
                (worker_name, ping_id),
            )

    async def get(self, ping_id: int) -> Ping | None:
        async with self._pool.connection() as conn, conn.cursor(row_factory=class_row(Ping)) as cur:
            await cur.execute(
                "SELECT id, requested_at, completed_at, worker_name "
                "FROM diagnostic_pings WHERE id = %s",
                (ping_id,),
            )
            return await cur.fetchone()
