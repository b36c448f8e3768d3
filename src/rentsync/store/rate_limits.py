"""The per-realm QBO limits, shared by every process (implements qbo.ports RateWindow and
InFlightSlots on two UNLOGGED tables: losing them in a crash only forgets the last minute)."""

from __future__ import annotations

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


class PgInFlightSlots:
    """`capacity` rows per realm; a request leases a free (or expired) one, SKIP LOCKED."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._seeded: set[tuple[str, int]] = set()

    async def acquire(
        self, realm_id: str, *, capacity: int, holder: str, lease_seconds: float
    ) -> int | None:
        async with self._pool.connection() as conn:
            if (realm_id, capacity) not in self._seeded:
                await conn.execute(
                    "INSERT INTO qbo_inflight_slots (realm_id, slot) "
                    "SELECT %s, g FROM generate_series(0, %s - 1) AS g ON CONFLICT DO NOTHING",
                    (realm_id, capacity),
                )
                self._seeded.add((realm_id, capacity))
            cursor = await conn.execute(
                """UPDATE qbo_inflight_slots AS s
                   SET holder = %(holder)s,
                       leased_until = clock_timestamp() + make_interval(secs => %(lease)s)
                   FROM (SELECT realm_id, slot FROM qbo_inflight_slots
                         WHERE realm_id = %(realm)s AND slot < %(capacity)s
                           AND (holder IS NULL OR leased_until < clock_timestamp())
                         ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) AS free
                   WHERE s.realm_id = free.realm_id AND s.slot = free.slot
                   RETURNING s.slot""",
                {"holder": holder, "lease": lease_seconds, "realm": realm_id, "capacity": capacity},
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else None

    async def release(self, realm_id: str, slot: int, holder: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE qbo_inflight_slots SET holder = NULL, leased_until = NULL "
                "WHERE realm_id = %s AND slot = %s AND holder = %s",
                (realm_id, slot, holder),
            )
