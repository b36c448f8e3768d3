"""The audit of console actions: the one place they are recorded and read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    id: int
    company_id: int
    user_id: int | None
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    at: datetime


class AuditRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def record(
        self,
        *,
        company_id: int,
        user_id: int | None,
        actor: str,
        action: str,
        target: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO console_audit (company_id, user_id, actor, action, target, detail) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (company_id, user_id, actor, action, target, Jsonb(detail or {})),
            )

    async def of_company(
        self, company_id: int, *, limit: int = 100, before_id: int | None = None
    ) -> list[AuditEntry]:
        """Newest first; `before_id` pages back."""
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(AuditEntry)) as cur,
        ):
            await cur.execute(
                "SELECT id, company_id, user_id, actor, action, target, detail, at "
                "FROM console_audit WHERE company_id = %s AND (%s::bigint IS NULL OR id < %s) "
                "ORDER BY id DESC LIMIT %s",
                (company_id, before_id, before_id, limit),
            )
            return await cur.fetchall()
