"""Companies and their API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
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

KEY_CHECK_KEPT_SECONDS = 5.0
"""How long a process trusts a key it found valid without asking the database again (issue 13,
P4: the check was one statement on every API request). The bound on revocation elsewhere: a key
revoked by another process (the CLI, another `serve`) is refused by this one within this long;
one revoked through this process is refused at once (`revoke_key` drops it here), and an
expiry is checked on every request."""

_KEY_CHECKS_KEPT = 10_000
"""Keys a process keeps checked (the oldest goes first); unknown keys are never kept."""


@dataclass(frozen=True)
class _CheckedKey:
    secret_hash: bytes
    principal: Principal
    expires_at: datetime | None
    checked_at: float
    """`time.monotonic()` when the database last said the key was valid."""


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _split(key: str) -> tuple[str, str] | None:
    parts = key.strip().split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != KEY_SCHEME or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class CompanyRepository:
    def __init__(
        self, pool: AsyncConnectionPool, *, key_check_kept_seconds: float = KEY_CHECK_KEPT_SECONDS
    ) -> None:
        self._pool = pool
        self._kept_seconds = key_check_kept_seconds
        self._checked: dict[str, _CheckedKey] = {}
        """Keys found valid, by prefix (the secret's hash, never the secret)."""
        self._revocations = 0
        """Revocations through this process: a check that read the key before one ended is not
        kept (it may have read the key before it was revoked)."""

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
        """The principal an API key stands for, or None for an unknown, revoked or expired key
        (revoked elsewhere: within `KEY_CHECK_KEPT_SECONDS`)."""
        parts = _split(key)
        if parts is None:
            return None
        prefix, secret = parts
        presented = _hash(secret)
        kept = self._checked.get(prefix)
        if kept is not None:
            if (
                time.monotonic() - kept.checked_at < self._kept_seconds
                and (kept.expires_at is None or kept.expires_at > datetime.now(UTC))
                and hmac.compare_digest(kept.secret_hash, presented)
            ):
                return kept.principal
            del self._checked[prefix]
        checked_at = time.monotonic()
        revocations = self._revocations
        async with self._pool.connection() as conn:
            # Whether the last use is worth noting again is decided here, in the same read: a
            # key used for every PUT costs one statement per request, not two.
            cursor = await conn.execute(
                "SELECT id, company_id, secret_hash, permissions, last_used_at IS NULL OR "
                "last_used_at < now() - make_interval(secs => %s), expires_at FROM api_keys "
                "WHERE prefix = %s AND revoked_at IS NULL "
                "AND (expires_at IS NULL OR expires_at > now())",
                (LAST_USE_RESOLUTION_SECONDS, prefix),
            )
            row = await cursor.fetchone()
            if row is None or not hmac.compare_digest(bytes(row[2]), presented):
                return None
            if row[4]:
                await conn.execute(
                    "UPDATE api_keys SET last_used_at = now() WHERE id = %s AND (last_used_at "
                    "IS NULL OR last_used_at < now() - make_interval(secs => %s))",
                    (row[0], LAST_USE_RESOLUTION_SECONDS),
                )
        known = {p.value for p in Permission}
        principal = Principal(
            company_id=int(row[1]),
            api_key_id=int(row[0]),
            permissions=frozenset(Permission(p) for p in row[3] if p in known),
        )
        if self._kept_seconds > 0 and revocations == self._revocations:
            if len(self._checked) >= _KEY_CHECKS_KEPT and prefix not in self._checked:
                del self._checked[next(iter(self._checked))]  # the oldest kept
            self._checked[prefix] = _CheckedKey(
                secret_hash=bytes(row[2]),
                principal=principal,
                expires_at=row[5],
                checked_at=checked_at,
            )
        return principal

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
        """Revoke one of the company's keys (at once: the next request with it to this process
        is refused, to any other within `KEY_CHECK_KEPT_SECONDS`); None when the company has no
        such key. Revoking twice keeps the first time."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
                "WHERE id = %s AND company_id = %s",
                (key_id, company_id),
            )
        self._revocations += 1
        for prefix, kept in list(self._checked.items()):
            if kept.principal.api_key_id == key_id:
                del self._checked[prefix]
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
