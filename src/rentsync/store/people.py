"""Console users, their one-time sign-in links and failed sign-ins (PostgreSQL, so limits and
links hold across processes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg.errors import UniqueViolation
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.people import ConsoleUser, Role

_COLUMNS = (
    "id, company_id, email, name, role, view_qbo_logs, active, session_version, "
    "password_hash IS NOT NULL"
)


class EmailTaken(ValueError):
    """Another user (of any company) signs in with this e-mail address."""


class LastOwner(ValueError):
    """The change would leave the company without an active owner."""


def _user(row: tuple[Any, ...]) -> ConsoleUser:
    return ConsoleUser(
        id=int(row[0]),
        company_id=int(row[1]),
        email=row[2],
        name=row[3],
        role=Role(row[4]),
        view_qbo_logs=bool(row[5]),
        active=bool(row[6]),
        session_version=int(row[7]),
        has_password=bool(row[8]),
    )


class PeopleRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def create(
        self,
        *,
        company_id: int,
        email: str,
        name: str,
        role: Role,
        view_qbo_logs: bool,
        password_hash: str | None,
    ) -> ConsoleUser:
        async with self._pool.connection() as conn:
            try:
                cursor = await conn.execute(
                    "INSERT INTO console_users (company_id, email, name, role, view_qbo_logs, "
                    f"password_hash) VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
                    (company_id, email, name, role.value, view_qbo_logs, password_hash),
                )
            except UniqueViolation:
                raise EmailTaken(f"{email} is already a user") from None
            row = await cursor.fetchone()
        assert row is not None
        return _user(row)

    async def get(self, user_id: int) -> ConsoleUser | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT {_COLUMNS} FROM console_users WHERE id = %s", (user_id,)
            )
            row = await cursor.fetchone()
        return None if row is None else _user(row)

    async def in_company(self, company_id: int, user_id: int) -> ConsoleUser | None:
        user = await self.get(user_id)
        return user if user is not None and user.company_id == company_id else None

    async def by_email(self, email: str) -> tuple[ConsoleUser, str | None] | None:
        """The user and their password hash (for signing in only)."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT {_COLUMNS}, password_hash FROM console_users WHERE email = %s",
                (email,),
            )
            row = await cursor.fetchone()
        return None if row is None else (_user(row), row[9])

    async def of_company(self, company_id: int) -> list[ConsoleUser]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT {_COLUMNS} FROM console_users WHERE company_id = %s ORDER BY email",
                (company_id,),
            )
            return [_user(row) for row in await cursor.fetchall()]

    async def update(
        self,
        user_id: int,
        *,
        role: Role,
        view_qbo_logs: bool,
        active: bool,
        end_sessions: bool,
    ) -> ConsoleUser | None:
        """Change a user; LastOwner when that leaves the company without an active owner. The
        company's owners are locked first, so two owners demoting each other at once cannot
        both succeed."""
        async with self._pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "SELECT id FROM console_users WHERE active AND role = 'owner' AND company_id = "
                "(SELECT company_id FROM console_users WHERE id = %s) ORDER BY id FOR UPDATE",
                (user_id,),
            )
            owners = {int(row[0]) for row in await cursor.fetchall()}
            if owners == {user_id} and (role is not Role.OWNER or not active):
                raise LastOwner("the company needs at least one active owner")
            cursor = await conn.execute(
                "UPDATE console_users SET role = %s, view_qbo_logs = %s, active = %s, "
                "session_version = session_version + %s, updated_at = now() "
                f"WHERE id = %s RETURNING {_COLUMNS}",
                (role.value, view_qbo_logs, active, 1 if end_sessions else 0, user_id),
            )
            row = await cursor.fetchone()
        return None if row is None else _user(row)

    async def set_password_hash(self, user_id: int, password_hash: str | None) -> None:
        """Also ends every session of the user (their session version moves on)."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE console_users SET password_hash = %s, "
                "session_version = session_version + 1, updated_at = now() WHERE id = %s",
                (password_hash, user_id),
            )

    async def rehash(self, user_id: int, old_hash: str, new_hash: str) -> None:
        """Store a stronger hash of the same password (sessions stay)."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE console_users SET password_hash = %s WHERE id = %s AND password_hash = %s",
                (new_hash, user_id, old_hash),
            )

    async def end_sessions(self, user_id: int) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE console_users SET session_version = session_version + 1 WHERE id = %s",
                (user_id,),
            )

    # one-time sign-in links

    async def add_link(self, user_id: int, token_hash: bytes, expires_at: datetime) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "DELETE FROM console_signin_links WHERE expires_at < now() - interval '1 day'"
            )
            await conn.execute(
                "INSERT INTO console_signin_links (token_hash, user_id, expires_at) "
                "VALUES (%s, %s, %s)",
                (token_hash, user_id, expires_at),
            )

    async def use_link(self, token_hash: bytes) -> int | None:
        """Mark the link used and return its user, once: None when unknown, used or expired
        (one statement, so two browsers racing on one link cannot both win)."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "UPDATE console_signin_links SET used_at = now() WHERE token_hash = %s "
                "AND used_at IS NULL AND expires_at > now() RETURNING user_id",
                (token_hash,),
            )
            row = await cursor.fetchone()
        return None if row is None else int(row[0])

    # failed sign-ins

    async def claim_attempt(
        self,
        email: str,
        client_ip: str,
        window: timedelta,
        *,
        per_email: int,
        per_client: int,
    ) -> int | None:
        """Count a sign-in attempt as failed before its password is checked, unless the address
        or the client already has its failures within `window` (then None). Returns the row to
        drop once the password proves right (`forgive`). Counting first, under per-address and
        per-client locks, keeps the limit exact when attempts arrive at the same moment."""
        async with self._pool.connection() as conn, conn.transaction():
            # Always the address's lock first, then the client's: no two attempts wait in a cycle.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('signin:email:' || %s)), "
                "pg_advisory_xact_lock(hashtext('signin:client:' || %s))",
                (email, client_ip),
            )
            await conn.execute(
                "DELETE FROM console_signin_failures WHERE at < now() - %s", (window * 4,)
            )
            cursor = await conn.execute(
                "SELECT count(*) FILTER (WHERE email = %s), count(*) FILTER (WHERE client_ip = %s)"
                " FROM console_signin_failures WHERE at > now() - %s "
                "AND (email = %s OR client_ip = %s)",
                (email, client_ip, window, email, client_ip),
            )
            row = await cursor.fetchone()
            assert row is not None
            if int(row[0]) >= per_email or int(row[1]) >= per_client:
                return None
            cursor = await conn.execute(
                "INSERT INTO console_signin_failures (email, client_ip) VALUES (%s, %s) "
                "RETURNING id",
                (email, client_ip),
            )
            claimed = await cursor.fetchone()
        assert claimed is not None
        return int(claimed[0])

    async def forgive(self, attempt_id: int) -> None:
        """The attempt succeeded: it no longer counts as a failure."""
        async with self._pool.connection() as conn:
            await conn.execute("DELETE FROM console_signin_failures WHERE id = %s", (attempt_id,))
