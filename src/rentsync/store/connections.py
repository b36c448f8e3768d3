"""QuickBooks connections: one row per company, tokens encrypted (implements qbo.ports).

The refresh lock is the row itself: `locked()` runs `SELECT ... FOR UPDATE` in a transaction,
so one process at a time refreshes a company's tokens, and the rotated refresh token is
committed when the block exits, before the caller uses the new access token.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from rentsync.crypto import TokenCipher
from rentsync.domain.qbo import CompanyFacts, StoredConnection, StoredStatus, TokenSet
from rentsync.domain.settings import SyncSettings
from rentsync.store.sync_settings import SETTINGS_COLUMNS, settings_of

_COLUMNS = """company_id, status, environment, realm_id, company_name, plan, country,
    inventory_enabled, ast_enabled, access_token, refresh_token, access_expires_at,
    refresh_expires_at, refresh_hard_expires_at, connected_at, lost_at, lost_reason,
    disconnected_at"""


def company_version(company: str) -> str:
    """SQL for the company's read version (migration 0079) given an SQL expression for its id:
    its connection's and its settings' versions, '-' for a missing row. Every write of either
    row changes it, and it never repeats."""
    return (
        "(coalesce((SELECT version::text FROM qbo_connections WHERE company_id = "
        f"{company}), '-') || ':' || coalesce((SELECT version::text FROM company_settings "
        f"WHERE company_id = {company}), '-'))"
    )


def _context(company_id: int, field: str) -> str:
    return f"qbo_connections:{company_id}:{field}"


class LockedRow:
    """The row under `SELECT ... FOR UPDATE`; writes go through the same transaction."""

    def __init__(
        self,
        conn: AsyncConnection[Any],
        repository: ConnectionRepository,
        company_id: int,
        connection: StoredConnection | None,
    ) -> None:
        self._conn = conn
        self._repository = repository
        self._company_id = company_id
        self._connection = connection

    @property
    def connection(self) -> StoredConnection | None:
        return self._connection

    async def save_tokens(self, tokens: TokenSet) -> None:
        await self._conn.execute(
            """UPDATE qbo_connections SET access_token = %s, refresh_token = %s,
                   access_expires_at = %s, refresh_expires_at = %s,
                   refresh_hard_expires_at = COALESCE(%s, refresh_hard_expires_at),
                   refreshed_at = now(), updated_at = now()
               WHERE company_id = %s""",
            (
                *self._repository.seal(self._company_id, tokens),
                tokens.access_expires_at,
                tokens.refresh_expires_at,
                tokens.refresh_hard_expires_at,
                self._company_id,
            ),
        )

    async def mark_lost(self, reason: str) -> None:
        await self._repository.mark_lost_in(self._conn, self._company_id, reason)


class ConnectionRepository:
    def __init__(self, pool: AsyncConnectionPool, cipher: TokenCipher) -> None:
        self._pool = pool
        self._cipher = cipher

    def seal(self, company_id: int, tokens: TokenSet) -> tuple[bytes, bytes]:
        return (
            self._cipher.encrypt(tokens.access_token, context=_context(company_id, "access")),
            self._cipher.encrypt(tokens.refresh_token, context=_context(company_id, "refresh")),
        )

    def _from_row(self, row: dict[str, Any]) -> StoredConnection:
        company_id = int(row["company_id"])
        tokens = None
        if row["access_token"] is not None and row["refresh_token"] is not None:
            tokens = TokenSet(
                access_token=self._cipher.decrypt(
                    bytes(row["access_token"]), context=_context(company_id, "access")
                ),
                refresh_token=self._cipher.decrypt(
                    bytes(row["refresh_token"]), context=_context(company_id, "refresh")
                ),
                access_expires_at=row["access_expires_at"],
                refresh_expires_at=row["refresh_expires_at"],
                refresh_hard_expires_at=row["refresh_hard_expires_at"],
            )
        return StoredConnection(
            company_id=company_id,
            state=StoredStatus(row["status"]),
            environment=row["environment"],
            realm_id=row["realm_id"],
            facts=CompanyFacts(
                company_name=row["company_name"],
                plan=row["plan"],
                country=row["country"],
                inventory_enabled=row["inventory_enabled"],
                ast_enabled=row["ast_enabled"],
            ),
            tokens=tokens,
            connected_at=row["connected_at"],
            lost_at=row["lost_at"],
            lost_reason=row["lost_reason"],
            disconnected_at=row["disconnected_at"],
        )

    async def get(self, company_id: int) -> StoredConnection | None:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                f"SELECT {_COLUMNS} FROM qbo_connections WHERE company_id = %s",
                (company_id,),
            )
            row = await cur.fetchone()
        return self._from_row(row) if row else None

    async def get_with_settings(
        self, company_id: int
    ) -> tuple[StoredConnection | None, SyncSettings, str]:
        """The connection, the company's sync settings and the version they were read at
        (`company_version`), in one round trip (each sync job needs both)."""
        columns = ", ".join(f"c.{c.strip()}" for c in _COLUMNS.split(","))
        async with self._pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(
                f"SELECT {columns}, s.{SETTINGS_COLUMNS.replace(', ', ', s.')}, "
                f"{company_version('k.company_id')} "
                "FROM (SELECT %s::bigint AS company_id) AS k "
                "LEFT JOIN qbo_connections c USING (company_id) "
                "LEFT JOIN company_settings s USING (company_id)",
                (company_id,),
            )
            row = await cur.fetchone()
            assert row is not None and cur.description is not None
            width = len(row) - 3
            names = [column.name for column in cur.description[:width]]
        settings, version = settings_of(row[width:-1]), str(row[-1])
        if row[0] is None:  # no connection row
            return None, settings, version
        return self._from_row(dict(zip(names, row[:width], strict=True))), settings, version

    @contextlib.asynccontextmanager
    async def locked(self, company_id: int) -> AsyncIterator[LockedRow]:
        async with self._pool.connection() as conn, conn.transaction():
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(
                    f"SELECT {_COLUMNS} FROM qbo_connections WHERE company_id = %s FOR UPDATE",
                    (company_id,),
                )
                row = await cur.fetchone()
            yield LockedRow(conn, self, company_id, self._from_row(row) if row else None)

    async def save_connected(
        self,
        company_id: int,
        *,
        environment: str,
        realm_id: str,
        tokens: TokenSet,
        facts: CompanyFacts,
    ) -> None:
        """Connected (or reconnected). Reconnecting a lost connection to the same realm keeps
        `connected_at`: documents that arrived while it was lost still sync."""
        access, refresh = self.seal(company_id, tokens)
        async with self._pool.connection() as conn:
            await conn.execute(
                """INSERT INTO qbo_connections AS c (company_id, status, environment, realm_id,
                       company_name, plan, country, inventory_enabled, ast_enabled,
                       access_token, refresh_token, access_expires_at, refresh_expires_at,
                       refresh_hard_expires_at, connected_at, refreshed_at)
                   VALUES (%s, 'connected', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                           now(), now())
                   ON CONFLICT (company_id) DO UPDATE SET
                       status = 'connected', environment = EXCLUDED.environment,
                       realm_id = EXCLUDED.realm_id, company_name = EXCLUDED.company_name,
                       plan = EXCLUDED.plan, country = EXCLUDED.country,
                       inventory_enabled = EXCLUDED.inventory_enabled,
                       ast_enabled = EXCLUDED.ast_enabled,
                       access_token = EXCLUDED.access_token,
                       refresh_token = EXCLUDED.refresh_token,
                       access_expires_at = EXCLUDED.access_expires_at,
                       refresh_expires_at = EXCLUDED.refresh_expires_at,
                       refresh_hard_expires_at = EXCLUDED.refresh_hard_expires_at,
                       connected_at = CASE
                           WHEN c.status IN ('connected', 'lost')
                                AND c.realm_id = EXCLUDED.realm_id
                           THEN c.connected_at ELSE EXCLUDED.connected_at END,
                       refreshed_at = now(), lost_at = NULL, lost_reason = NULL,
                       disconnected_at = NULL, updated_at = now()""",
                (
                    company_id,
                    environment,
                    realm_id,
                    facts.company_name,
                    facts.plan,
                    facts.country,
                    facts.inventory_enabled,
                    facts.ast_enabled,
                    access,
                    refresh,
                    tokens.access_expires_at,
                    tokens.refresh_expires_at,
                    tokens.refresh_hard_expires_at,
                ),
            )

    async def save_facts(self, company_id: int, facts: CompanyFacts) -> None:
        """What QBO says of the company now (plan, inventory, AST may change after connecting)."""
        async with self._pool.connection() as conn:
            await conn.execute(
                """UPDATE qbo_connections SET company_name = %s, plan = %s, country = %s,
                       inventory_enabled = %s, ast_enabled = %s, updated_at = now()
                   WHERE company_id = %s AND status = 'connected'""",
                (
                    facts.company_name,
                    facts.plan,
                    facts.country,
                    facts.inventory_enabled,
                    facts.ast_enabled,
                    company_id,
                ),
            )

    async def forget(self, company_id: int) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                """UPDATE qbo_connections SET status = 'disconnected', access_token = NULL,
                       refresh_token = NULL, access_expires_at = NULL, refresh_expires_at = NULL,
                       refresh_hard_expires_at = NULL, disconnected_at = now(),
                       updated_at = now()
                   WHERE company_id = %s""",
                (company_id,),
            )

    async def mark_lost(self, company_id: int, reason: str) -> None:
        async with self._pool.connection() as conn:
            await self.mark_lost_in(conn, company_id, reason)

    async def mark_lost_in(self, conn: AsyncConnection[Any], company_id: int, reason: str) -> None:
        """Lost: the tokens are useless now, so they are dropped too."""
        await conn.execute(
            """UPDATE qbo_connections SET status = 'lost', lost_at = now(), lost_reason = %s,
                   access_token = NULL, refresh_token = NULL, updated_at = now()
               WHERE company_id = %s AND status = 'connected'""",
            (reason, company_id),
        )

    async def save_state(self, nonce: str, company_id: int, expires_at: datetime) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("DELETE FROM qbo_oauth_states WHERE expires_at < now()")
            await conn.execute(
                "INSERT INTO qbo_oauth_states (nonce_hash, company_id, expires_at) "
                "VALUES (%s, %s, %s)",
                (hashlib.sha256(nonce.encode()).digest(), company_id, expires_at),
            )

    async def consume_state(self, nonce: str, company_id: int) -> bool:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM qbo_oauth_states WHERE nonce_hash = %s AND company_id = %s "
                "RETURNING expires_at > now()",
                (hashlib.sha256(nonce.encode()).digest(), company_id),
            )
            row = await cursor.fetchone()
        return bool(row and row[0])
