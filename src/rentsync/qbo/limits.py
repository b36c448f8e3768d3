"""Per-realm limits, shared by every process: ≤ 10 requests in flight, ≤ 500 a minute, ≤ 40
batches a minute (reference §1).

- In flight: a per-process `asyncio.Semaphore(10)` per realm keeps one process from asking the
  database for more than it could use; the cross-process cap is a table of 10 leased slots per
  realm (`InFlightSlots`): a request holds one slot while it runs. A slot whose holder died is
  reclaimed when its lease (request timeout + margin) ends. A request that gets no slot for a
  little longer than a lease (every slot taken before it began waiting has been released or
  has expired by then, so the table is broken or the realm overloaded) fails as `Unreachable`,
  nothing sent, which the sync retries: nothing waits for a slot forever.
- Per minute: a fixed-window counter per (realm, kind, minute) in the database (`RateWindow`).
  A request that finds its minute full waits for the next one, holding its slot.

Intuit does not document its window algorithm, so the client still treats a 429 as "wait and
retry" (see `client.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from rentsync.qbo import errors
from rentsync.qbo.ports import InFlightSlots, RateWindow

ALL = "all"
BATCH = "batch"


@dataclass(frozen=True, kw_only=True)
class LimitSettings:
    in_flight: int = 10
    per_minute: int = 500
    batch_per_minute: int = 40
    lease_seconds: float = 60.0
    """How long a slot stays taken if its holder dies; above the request timeout."""
    poll_seconds: float = 0.01
    """First wait between attempts to get a slot (doubles up to 0.2 s, with jitter)."""
    slot_wait_seconds: float = 65.0
    """Longest wait for a slot before the request fails as `Unreachable` (nothing sent)."""


class Limiter:
    """Hands out permission to send one request to a realm; one per process, shared."""

    def __init__(
        self,
        *,
        window: RateWindow | None = None,
        slots: InFlightSlots | None = None,
        settings: LimitSettings | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._window = window
        self._slots = slots
        self._settings = settings or LimitSettings()
        self._sleep = sleep
        self._local: dict[str, asyncio.Semaphore] = {}
        self._holder_prefix = f"{os.getpid()}:{secrets.token_hex(4)}"
        self.in_flight: dict[str, int] = {}
        """Requests in flight per realm from this process (for tests and diagnostics)."""
        self.peak_in_flight: dict[str, int] = {}

    @property
    def settings(self) -> LimitSettings:
        return self._settings

    def _semaphore(self, realm_id: str) -> asyncio.Semaphore:
        semaphore = self._local.get(realm_id)
        if semaphore is None:
            semaphore = self._local[realm_id] = asyncio.Semaphore(self._settings.in_flight)
        return semaphore

    @contextlib.asynccontextmanager
    async def slot(self, realm_id: str, *, batch: bool = False) -> AsyncIterator[None]:
        """Hold the right to have one request in flight to `realm_id` for the block."""
        async with self._semaphore(realm_id):
            holder = f"{self._holder_prefix}:{secrets.token_hex(4)}"
            slot = await self._acquire_shared(realm_id, holder)
            try:
                await self._count(realm_id, ALL, self._settings.per_minute)
                if batch:
                    await self._count(realm_id, BATCH, self._settings.batch_per_minute)
                now = self.in_flight.get(realm_id, 0) + 1
                self.in_flight[realm_id] = now
                self.peak_in_flight[realm_id] = max(self.peak_in_flight.get(realm_id, 0), now)
                try:
                    yield
                finally:
                    self.in_flight[realm_id] -= 1
            finally:
                if slot is not None and self._slots is not None:
                    # Shielded: a cancelled request must still give its slot back.
                    await asyncio.shield(self._slots.release(realm_id, slot, holder))

    async def _acquire_shared(self, realm_id: str, holder: str) -> int | None:
        if self._slots is None:
            return None
        wait = self._settings.poll_seconds
        # Counted in time slept (not the wall clock) so an injected `sleep` bounds it too.
        waited = 0.0
        while True:
            slot = await self._slots.acquire(
                realm_id,
                capacity=self._settings.in_flight,
                holder=holder,
                lease_seconds=self._settings.lease_seconds,
            )
            if slot is not None:
                return slot
            if waited >= self._settings.slot_wait_seconds:
                raise errors.Unreachable(
                    f"no free request slot for QuickBooks company {realm_id} after "
                    f"{waited:.0f} s; nothing was sent",
                    remedy="rentsync's request slots for this QuickBooks company stayed taken; "
                    "nothing was sent and the sync retries on its own.",
                )
            pause = wait * (0.5 + random.random())  # noqa: S311 - jitter only
            await self._sleep(pause)
            waited += pause
            wait = min(wait * 2, 0.2)

    async def _count(self, realm_id: str, kind: str, limit: int) -> None:
        if self._window is None:
            return
        while True:
            used, seconds_left = await self._window.hit(realm_id, kind)
            if used <= limit:
                return
            await self._sleep(max(seconds_left, 0.0) + 0.05)
