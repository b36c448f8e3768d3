"""The per-realm QBO limits, shared by every process (implements qbo.ports RateWindow and
InFlightSlots on two UNLOGGED tables).

UNLOGGED because they change on every request and matter only for a minute; PostgreSQL's crash
recovery empties them. Nothing here may depend on their rows surviving: a lost rate window only
forgets the current minute, and a realm's slot rows are made again whenever a request finds none
free and some missing."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool


class PgRateWindow:
    """Fixed one-minute windows on the database clock, so all processes agree on the minute."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def hit(self, realm_id: str, kind: str) -> tuple[int, float]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                """INSERT INTO qbo_rate_windows AS w (realm_id, kind, minute, n)
                   VALUES (%s, %s, date_trunc('minute', clock_timestamp()), 1)
                   ON CONFLICT (realm_id, kind, minute) DO UPDATE SET n = w.n + 1
                   RETURNING n, extract(epoch FROM
                       (minute + interval '1 minute') - clock_timestamp())::float8""",
                (realm_id, kind),
            )
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0]), float(row[1])

    async def purge(self) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM qbo_rate_windows WHERE minute < now() - interval '5 minutes'"
            )
            return cursor.rowcount


_LEASE = """UPDATE qbo_inflight_slots AS s
   SET holder = %(holder)s,
       leased_until = clock_timestamp() + make_interval(secs => %(lease)s)
  FROM (SELECT realm_id, slot FROM qbo_inflight_slots
         WHERE realm_id = %(realm)s AND slot < %(capacity)s
           AND (holder IS NULL OR leased_until < clock_timestamp())
         ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) AS free
 WHERE s.realm_id = free.realm_id AND s.slot = free.slot
RETURNING s.slot"""

_SEED = """INSERT INTO qbo_inflight_slots (realm_id, slot)
SELECT %(realm)s, g FROM generate_series(0, %(capacity)s - 1) AS g
ON CONFLICT DO NOTHING"""


class PgInFlightSlots:
    """`capacity` rows per realm; a request leases a free (or expired) one, SKIP LOCKED.

    A lease ends when its holder releases it or when it expires, so a slot held by a process
    that died is taken over once its lease is over. The rows need no seeding beforehand: a
    request that finds no free slot inserts whichever of the realm's rows are missing (the
    first request to a realm, or any request after crash recovery emptied the table) and tries
    once more."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def acquire(
        self, realm_id: str, *, capacity: int, holder: str, lease_seconds: float
    ) -> int | None:
        params = {"holder": holder, "lease": lease_seconds, "realm": realm_id, "capacity": capacity}
        async with self._pool.connection() as conn:
            slot = await self._lease(conn, params)
            if slot is None and await self._seed(conn, params):
                slot = await self._lease(conn, params)
        return slot

    @staticmethod
    async def _lease(conn: AsyncConnection[Any], params: dict[str, Any]) -> int | None:
        cursor = await conn.execute(_LEASE, params)
        row = await cursor.fetchone()
        return int(row[0]) if row else None

    @staticmethod
    async def _seed(conn: AsyncConnection[Any], params: dict[str, Any]) -> bool:
        """Insert the realm's missing slot rows; True when any was missing."""
        cursor = await conn.execute(_SEED, params)
        return cursor.rowcount > 0

    async def release(self, realm_id: str, slot: int, holder: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE qbo_inflight_slots SET holder = NULL, leased_until = NULL "
                "WHERE realm_id = %s AND slot = %s AND holder = %s",
                (realm_id, slot, holder),
            )
