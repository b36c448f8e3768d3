"""Which pooled connections to check before use: those that sat idle for a while."""

from __future__ import annotations

import time
import weakref
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool


class IdleConnectionCheck:
    """A pool's `check` and `reset` callbacks: a connection returned to the pool is stamped, and
    one checked out after `idle_seconds` or more (or never stamped) runs one empty query first,
    so connections the database dropped (a restart) are replaced before a request fails on
    them, without a round trip for every statement under load."""

    def __init__(self, idle_seconds: float = 1.0) -> None:
        self._idle_seconds = idle_seconds
        self._returned_at: weakref.WeakKeyDictionary[AsyncConnection[Any], float] = (
            weakref.WeakKeyDictionary()
        )

    async def returned(self, conn: AsyncConnection[Any]) -> None:
        self._returned_at[conn] = time.monotonic()

    async def check(self, conn: AsyncConnection[Any]) -> None:
        returned_at = self._returned_at.get(conn)
        if returned_at is None or time.monotonic() - returned_at >= self._idle_seconds:
            await AsyncConnectionPool.check_connection(conn)
