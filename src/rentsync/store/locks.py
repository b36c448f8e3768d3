"""Cross-process locks on names, held on a dedicated connection for the duration of a block."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator

from psycopg_pool import AsyncConnectionPool


def _lock_id(name: str) -> int:
    """A stable signed 64-bit id for pg_advisory_lock (Python's hash() differs per process)."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


class AdvisoryLocks:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        """Wait for and hold the lock `name`; released on exit, or if the process dies."""
        async with self._pool.connection() as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (_lock_id(name),))
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_id(name),))

    @contextlib.asynccontextmanager
    async def try_hold(self, name: str) -> AsyncIterator[bool]:
        """Hold the lock `name` if free (yields True), else yield False at once; released on
        exit, or if the process dies (its connection closes)."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (_lock_id(name),))
            row = await cursor.fetchone()
            held = bool(row and row[0])
            try:
                yield held
            finally:
                if held:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_id(name),))
