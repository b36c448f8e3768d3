"""QBO Ids a worker process has resolved by name and keeps while they hold (issue 13, P4).

Every payment and refund job needs the QBO PaymentMethod its method is recorded as (found by
Name, else created once: `sync.kinds.payment`). Looked up on every job, that look-up was a
third of a payment's batched operations, and its answer almost never changes. So a process
keeps each Id it resolved, per company and connection (`connected_at` changes when the company
connects a QBO company again, possibly another one), and forgets it when QBO answers that the
record it names is gone (missing or inactive: the writer's caller drops it and resolves the
name again, `PaymentContext.with_method`). In memory only: each process (and the bulk lane's
child process) resolves its own once; nothing to invalidate across processes, since a stale Id
is caught by QBO's own answer. Jobs of one process that need an Id nobody kept yet wait for the
first one's resolution instead of each asking QBO (a worker starts its jobs together).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

Scope = tuple[int, datetime | None]
"""(company id, the connection's `connected_at`)."""


class KnownIds:
    def __init__(self) -> None:
        self._ids: dict[tuple[Scope, str, str], str] = {}
        self._resolving: dict[tuple[Scope, str, str], asyncio.Lock] = {}

    async def resolve(
        self, scope: Scope, entity: str, name: str, find: Callable[[], Awaitable[str]]
    ) -> str:
        """The kept Id, else `find`'s (kept from then on); one `find` at a time per name."""
        key = (scope, entity, name)
        known = self._ids.get(key)
        if known is not None:
            return known
        async with self._resolving.setdefault(key, asyncio.Lock()):
            known = self._ids.get(key)
            if known is None:
                known = self._ids[key] = await find()
            return known

    def drop(self, scope: Scope, entity: str, name: str, qbo_id: str) -> bool:
        """Forget `name`'s Id if it is still `qbo_id` (another job may have resolved it again
        meanwhile); whether it was kept."""
        if self._ids.get((scope, entity, name)) != qbo_id:
            return False
        del self._ids[(scope, entity, name)]
        return True
