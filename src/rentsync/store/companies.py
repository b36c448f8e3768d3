"""Companies and their API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.access import Permission, Principal

KEY_SCHEME = "rsk"


@dataclass(frozen=True, kw_only=True)
class Company:
    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class IssuedKey:
    id: int
    company_id: int
    key: str
    """Shown once; only its hash is stored."""


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _split(key: str) -> tuple[str, str] | None:
    parts = key.strip().split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != KEY_SCHEME or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class CompanyRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def create(
        self, name: str, *, permissions: frozenset[Permission] = frozenset()
    ) -> tuple[Company, IssuedKey]:
        """Create a company and its first API key, in one transaction."""
        if not name.strip():
            raise ValueError("a company needs a name")
        async with self._pool.connection() as conn, conn.transaction():
            async with conn.cursor(row_factory=class_row(Company)) as cur:
                await cur.execute(
                    "INSERT INTO companies (name) VALUES (%s) RETURNING id, name, created_at",
                    (name.strip(),),
                )
                company = await cur.fetchone()
            assert company is not None
            key = await self._issue_key(conn, company.id, permissions)
        return company, key

    async def issue_key(
        self, company_id: int, *, permissions: frozenset[Permission] = frozenset()
    ) -> IssuedKey:
        async with self._pool.connection() as conn, conn.transaction():
            return await self._issue_key(conn, company_id, permissions)

    async def _issue_key(
        self, conn: AsyncConnection[Any], company_id: int, permissions: frozenset[Permission]
    ) -> IssuedKey:
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        cursor = await conn.execute(
            "INSERT INTO api_keys (company_id, prefix, secret_hash, permissions) "
            "VALUES (%s, %s, %s, %s) RETURNING id",
            (company_id, prefix, _hash(secret), sorted(p.value for p in permissions)),
        )
        row = await cursor.fetchone()
        assert row is not None
        return IssuedKey(
            id=int(row[0]), company_id=company_id, key=f"{KEY_SCHEME}_{prefix}_{secret}"
        )

    async def authenticate(self, key: str) -> Principal | None:
        """The principal an API key stands for, or None for an unknown or revoked key."""
        parts = _split(key)
        if parts is None:
            return None
        prefix, secret = parts
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT id, company_id, secret_hash, permissions FROM api_keys "
                "WHERE prefix = %s AND revoked_at IS NULL",
                (prefix,),
            )
            row = await cursor.fetchone()
        if row is None or not hmac.compare_digest(bytes(row[2]), _hash(secret)):
            return None
        known = {p.value for p in Permission}
        return Principal(
            company_id=int(row[1]),
            api_key_id=int(row[0]),
            permissions=frozenset(Permission(p) for p in row[3] if p in known),
        )

    async def get(self, company_id: int) -> Company | None:
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(Company)) as cur,
        ):
            await cur.execute(
                "SELECT id, name, created_at FROM companies WHERE id = %s", (company_id,)
            )
            return await cur.fetchone()

    async def list(self) -> list[Company]:
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(Company)) as cur,
        ):
            await cur.execute("SELECT id, name, created_at FROM companies ORDER BY id")
            return await cur.fetchall()
