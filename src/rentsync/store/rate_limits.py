"""The per-realm QBO limits, shared by every process (implements qbo.ports RealmBudget).

The tables are UNLOGGED because they change on every request and matter only for a minute;
PostgreSQL's crash recovery empties them. Nothing here depends on their rows surviving: lost
rings only forget the last minute's sends, and a realm's rows are made again by the next request
(`qbo_take_slot`, migrations 0035 and 0086). Every request costs one statement: `take` (the
function holds the realm's row lock while it checks and stamps), which also records the answers
the process had since its previous call (`qbo_answered`: each answered request's arrival ends,
its slot is given back)."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg_pool import AsyncConnectionPool

from rentsync.domain.limits import HeldSlot, SlotAsk

_TAKE = """SELECT slot, wait_seconds FROM qbo_take_slot(
    %s, %s, %s, %s, %s, %s::text[], %s::integer[], %s::float8[], %s::integer[],
    %s::text[], %s::integer[], %s::text[], %s::boolean[], %s, %s)"""

_RELEASE = "SELECT qbo_answered(%s::text[], %s::integer[], %s::text[], %s::boolean[])"

_BLOCK = """INSERT INTO qbo_realm_limits AS l (realm_id, blocked_until)
VALUES (%(realm)s, clock_timestamp() + make_interval(secs => %(seconds)s))
ON CONFLICT (realm_id) DO UPDATE
   SET blocked_until = greatest(l.blocked_until, excluded.blocked_until)"""


def _columns(
    held: Sequence[HeldSlot],
) -> tuple[list[str], list[int], list[str], list[bool]]:
    return (
        [h.realm_id for h in held],
        [h.slot for h in held],
        [h.holder for h in held],
        [h.keep_slot for h in held],
    )


class PgRealmBudget:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def take(self, ask: SlotAsk) -> tuple[int | None, float]:
        rings = ask.rings
        params = (
            ask.realm_id,
            ask.holder,
            ask.lease_seconds,
            ask.capacity,
            ask.keep_free,
            [r.kind for r in rings],
            [r.size for r in rings],
            [r.window_seconds for r in rings],
            [r.headroom for r in rings],
            *_columns(ask.release),
            ask.background,
            ask.lend_after_seconds,
        )
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_TAKE, params)
            row = await cursor.fetchone()
        assert row is not None
        return (None if row[0] is None else int(row[0])), float(row[1])

    async def release(self, held: Sequence[HeldSlot]) -> None:
        if not held:
            return
        async with self._pool.connection() as conn:
            await conn.execute(_RELEASE, _columns(held))

    async def block(self, realm_id: str, seconds: float) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(_BLOCK, {"realm": realm_id, "seconds": seconds})
