"""The QuickBooks request log (R16): written by the client, read with a permission, purged."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.qbo import LogEntry


@dataclass(frozen=True, kw_only=True)
class LogRow:
    id: int
    company_id: int
    realm_id: str | None
    at: datetime
    method: str
    path: str
    status: int | None
    duration_ms: float
    intuit_tid: str | None
    requestid: str | None
    request_body: str
    response_body: str
    error: str | None


class QboLogRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def record(self, entry: LogEntry) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                """INSERT INTO qbo_log (company_id, realm_id, at, method, path, status,
                       duration_ms, intuit_tid, requestid, request_body, response_body, error)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (
                    entry.company_id,
                    entry.realm_id,
                    entry.at,
                    entry.method,
                    entry.path,
                    entry.status,
                    entry.duration_ms,
                    entry.intuit_tid,
                    entry.requestid,
                    entry.request_body,
                    entry.response_body,
                    entry.error,
                ),
            )

    async def page(
        self,
        company_id: int,
        *,
        before_id: int | None = None,
        limit: int = 50,
        status: int | None = None,
        failed_only: bool = False,
        succeeded_only: bool = False,
        intuit_tid: str | None = None,
        requestid: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        entity: str | None = None,
        code: str | None = None,
    ) -> list[LogRow]:
        """Newest first; page on with `before_id` = the last row's id.

        `entity`: requests about a QBO entity (its path, e.g. `.../invoice/42`, or a query
        `select ... from Invoice`); `code`: answers carrying that fault code."""
        conditions = ["company_id = %(company)s"]
        params: dict[str, object] = {"company": company_id, "limit": limit}
        if before_id is not None:
            conditions.append("id < %(before)s")
            params["before"] = before_id
        if status is not None:
            conditions.append("status = %(status)s")
            params["status"] = status
        if failed_only:
            conditions.append("(status IS NULL OR status >= 400)")
        if succeeded_only:
            conditions.append("status < 400")
        if intuit_tid:
            conditions.append("intuit_tid = %(tid)s")
            params["tid"] = intuit_tid
        if requestid:
            conditions.append("requestid = %(requestid)s")
            params["requestid"] = requestid
        if since is not None:
            conditions.append("at >= %(since)s")
            params["since"] = since
        if until is not None:
            conditions.append("at < %(until)s")
            params["until"] = until
        if entity:
            # Paths are `/v3/company/<realm>/<entity>[/<id>]?...` or a query naming it.
            conditions.append(
                "(path ~* ('^/v3/company/[^/?]+/' || %(entity)s || '([/?]|$)') "
                "OR (path ~* '^/v3/company/[^/?]+/query[?]' "
                "AND path ~* ('from\\s+' || %(entity)s || '\\M')))"
            )
            params["entity"] = re.escape(entity)
        if code:
            conditions.append("response_body ~ ('\"code\"\\s*:\\s*\"' || %(code)s || '\"')")
            params["code"] = re.escape(code)
        query = (
            "SELECT id, company_id, realm_id, at, method, path, status, duration_ms, intuit_tid, "
            "requestid, request_body, response_body, error FROM qbo_log WHERE "
            + " AND ".join(conditions)
            + " ORDER BY id DESC LIMIT %(limit)s"
        )
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(LogRow)) as cur,
        ):
            await cur.execute(query, params)
            return await cur.fetchall()

    async def purge(self, *, older_than_days: int) -> int:
        """Delete entries older than the retention; returns how many went."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM qbo_log WHERE at < now() - make_interval(days => %s)",
                (older_than_days,),
            )
            return cursor.rowcount
