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


@dataclass(frozen=True, kw_only=True)
class ApiKeyInfo:
    """What is known of a key after it was shown once: never the secret."""

    id: int
    company_id: int
    prefix: str
    permissions: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


LAST_USE_RESOLUTION_SECONDS = 60
"""`last_used_at` is written at most this often per key: a read-mostly hot path stays cheap."""


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
        self,
        name: str,
        *,
        permissions: frozenset[Permission] = frozenset(),
        expires_at: datetime | None = None,
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
            key = await self._issue_key(conn, company.id, permissions, expires_at)
        return company, key

    async def issue_key(
        self,
        company_id: int,
        *,
        permissions: frozenset[Permission] = frozenset(),
        expires_at: datetime | None = None,
    ) -> IssuedKey:
        async with self._pool.connection() as conn, conn.transaction():
            return await self._issue_key(conn, company_id, permissions, expires_at)

    async def _issue_key(
        self,
        conn: AsyncConnection[Any],
        company_id: int,
        permissions: frozenset[Permission],
        expires_at: datetime | None = None,
    ) -> IssuedKey:
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        cursor = await conn.execute(
            "INSERT INTO api_keys (company_id, prefix, secret_hash, permissions, expires_at) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (company_id, prefix, _hash(secret), sorted(p.value for p in permissions), expires_at),
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
            # Whether the last use is worth noting again is decided here, in the same read: a
            # key used for every PUT costs one statement per request, not two.
            cursor = await conn.execute(
                "SELECT id, company_id, secret_hash, permissions, last_used_at IS NULL OR "
                "last_used_at < now() - make_interval(secs => %s) FROM api_keys "
                "WHERE prefix = %s AND revoked_at IS NULL "
                "AND (expires_at IS NULL OR expires_at > now())",
                (LAST_USE_RESOLUTION_SECONDS, prefix),
            )
            row = await cursor.fetchone()
            if row is None or not hmac.compare_digest(bytes(row[2]), _hash(secret)):
                return None
            if row[4]:
                await conn.execute(
                    "UPDATE api_keys SET last_used_at = now() WHERE id = %s AND (last_used_at "
                    "IS NULL OR last_used_at < now() - make_interval(secs => %s))",
                    (row[0], LAST_USE_RESOLUTION_SECONDS),
                )
        known = {p.value for p in Permission}
        return Principal(
            company_id=int(row[1]),
            api_key_id=int(row[0]),
            permissions=frozenset(Permission(p) for p in row[3] if p in known),
        )

    async def keys(self, company_id: int) -> list[ApiKeyInfo]:
        """A company's keys, newest first, revoked and expired ones included."""
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(ApiKeyInfo)) as cur,
        ):
            await cur.execute(
                "SELECT id, company_id, prefix, permissions, created_at, last_used_at, "
                "expires_at, revoked_at FROM api_keys WHERE company_id = %s ORDER BY id DESC",
                (company_id,),
            )
            return await cur.fetchall()

    async def revoke_key(self, company_id: int, key_id: int) -> ApiKeyInfo | None:
        """Revoke one of the company's keys (at once: the next request with it is refused);
        None when the company has no such key. Revoking twice keeps the first time."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
                "WHERE id = %s AND company_id = %s",
                (key_id, company_id),
            )
        return next((k for k in await self.keys(company_id) if k.id == key_id), None)

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
