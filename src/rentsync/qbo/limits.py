"""QuickBooks' per-realm limits (reference §1), shared by every process, so rentsync never
provokes a 429:

- at most 500 requests in any rolling minute per realm (batches count),
- at most 10 requests in flight and 10 a second per realm and app,
- at most 40 batches in any rolling minute per realm and app, 120 per realm: rentsync is one
  app, so its 40 is the one that binds (the ring is the smaller of the two).

Each rate is a ring of the last N takes in PostgreSQL (`store/rate_limits.py`), each counted
until the latest moment its request may reach QuickBooks: QuickBooks counts a request when it
arrives, which is anywhere between its take here and its answer (much later than the take when
the sending process's event loop lags: a bulk lane at a low CPU priority with 80 jobs), so a
request counts from its take until its answer + the window, and until its answer comes, as if it
could arrive to the end of its lease. A request may go while fewer than N still count (no margin
needed: QuickBooks saw each of them before its answer came back). In-flight slots are leased
rows; a slot whose holder died is taken over when its lease ends. The lease covers the longest a
request can be in flight at QuickBooks (it ends any request after 120 s,
`domain.qbo.REQUEST_SECONDS`), plus a margin: a holder never holds longer (the client's deadline
is at most that, for the whole exchange, and a 429's wait is spent before a slot is taken, not
holding one), so a live request's slot is never counted free. A request the client gave up
waiting for (`NoAnswerInTime`) may still run at QuickBooks: its slot is not given back but left
to its lease (`Hold.keep`); it can no longer arrive, though (its connection is closed), so its
count in the windows ends as an answer's would.

One statement per request takes the slot and stamps the rings; a finished request's answer is
recorded (its count's end, its slot given back) by the process's next take (or a moment later
by a timer), so it costs no statement of its own under load. The later it is recorded, the
longer the request counts: never less than QuickBooks counts it.

Background work (bulk sync) asks with `background=True`: it goes only while `background_keep_free`
slots stay free and the rolling minute keeps `background_headroom_per_minute` requests (and the
second `background_headroom_per_second`) for real-time work, which therefore never waits behind it
for more than the requests already in flight. While the realm has had no real-time ask for
`lend_reserve_after_seconds`, background work may use the minute's and second's headroom too
(never the in-flight slots); the first real-time ask takes it back, and waits only for the
window's oldest request to leave.

A 429 anyway (another app of the same company, a limit Intuit changed): `block` sets the realm's
"blocked until" in the database, so every process waits it out together, then the request is
tried once more (see `client.py`); nothing backs off on its own.

A request that gets no slot for a little longer than a lease (every slot taken before it began
waiting has been released or has expired by then, so the table is broken or the realm
overloaded) fails as `Unreachable`, nothing sent, which the sync retries: nothing waits for a
slot forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from rentsync.domain import qbo as qbo_rules
from rentsync.qbo import errors
from rentsync.qbo.ports import HeldSlot, RealmBudget, Ring, SlotAsk

MINUTE = "minute"
SECOND = "second"
BATCH = "batch"


@dataclass(frozen=True, kw_only=True)
class LimitSettings:
    in_flight: int = qbo_rules.IN_FLIGHT
    per_minute: int = qbo_rules.REQUESTS_PER_MINUTE
    per_second: int = qbo_rules.IN_FLIGHT
    batch_per_minute: int = qbo_rules.BATCHES_PER_MINUTE
    """Per realm and app."""
    realm_batch_per_minute: int = qbo_rules.REALM_BATCHES_PER_MINUTE
    """Per realm, every app together."""
    background_keep_free: int = qbo_rules.REAL_TIME_RESERVE_IN_FLIGHT
    """In-flight slots background work leaves free."""
    background_headroom_per_second: int = qbo_rules.REAL_TIME_RESERVE_PER_SECOND
    """Of the second's 10, what background work leaves: 9 per (1 s + a round trip) is above 450
    a minute at QuickBooks' usual latencies, so the minute's share (440) is what binds a bulk
    sync, as its preview plans."""
    background_headroom_per_minute: int = qbo_rules.REAL_TIME_RESERVE_PER_MINUTE
    """The bulk preview plans for the rest of the minute (`domain.bulk`); home: domain/qbo.py."""
    lend_reserve_after_seconds: float | None = qbo_rules.REAL_TIME_RESERVE_LENT_AFTER_SECONDS
    """Background work uses the minute's and second's headroom too after this long without a
    real-time ask to the realm (None: never)."""
    lease_seconds: float = qbo_rules.REQUEST_SECONDS + 10.0
    """How long a slot stays taken unless given back: the longest hold (a request in flight at
    QuickBooks, at most 120 s) plus a margin for the time between the take and the send. Also
    how long a request counts as still able to arrive, until its answer is recorded."""
    poll_seconds: float = 0.01
    """First wait between attempts to get a slot (doubles up to 0.2 s, with jitter)."""
    slot_wait_seconds: float = qbo_rules.REQUEST_SECONDS + 15.0
    """Longest wait for a slot before the request fails as `Unreachable` (nothing sent): a
    little longer than a lease."""
    release_delay_seconds: float = 0.02
    """A finished slot not given back by a take within this long is given back on its own."""

    @classmethod
    def scaled(cls, per_minute: int) -> LimitSettings:
        """QBO's rules with the minute raised (only against the emulator with its limits off):
        the second and batch rates grow in proportion, so nothing else binds first."""
        return cls(
            per_minute=per_minute,
            per_second=qbo_rules.scaled_rate(qbo_rules.IN_FLIGHT, per_minute),
            batch_per_minute=qbo_rules.scaled_rate(qbo_rules.BATCHES_PER_MINUTE, per_minute),
            realm_batch_per_minute=qbo_rules.scaled_rate(
                qbo_rules.REALM_BATCHES_PER_MINUTE, per_minute
            ),
            background_headroom_per_minute=qbo_rules.real_time_reserve_per_minute(per_minute),
            background_headroom_per_second=qbo_rules.real_time_reserve_per_second(per_minute),
        )

    def rings(self, *, batch: bool, background: bool) -> tuple[Ring, ...]:
        minute_headroom = self.background_headroom_per_minute if background else 0
        second_headroom = self.background_headroom_per_second if background else 0
        rings = [
            Ring(MINUTE, self.per_minute, 60.0, minute_headroom),
            Ring(SECOND, self.per_second, 1.0, second_headroom),
        ]
        if batch:
            size = min(self.batch_per_minute, self.realm_batch_per_minute)
            rings.append(Ring(BATCH, size, 60.0))
        return tuple(rings)


class Hold:
    """One request's right to be in flight (what `Limiter.slot` yields)."""

    def __init__(self) -> None:
        self.kept = False

    def keep(self) -> None:
        """The request may still be running at QuickBooks (no answer before the deadline): the
        slot is not given back at the end of the block but stays taken until its lease ends
        (its count in the windows ends there all the same: it can no longer arrive)."""
        self.kept = True


class Limiter:
    """Hands out permission to send one request to a realm; one per process, shared."""

    def __init__(
        self,
        *,
        budget: RealmBudget | None = None,
        settings: LimitSettings | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._budget = budget
        self._settings = settings or LimitSettings()
        self._sleep = sleep
        self._local: dict[tuple[str, bool], asyncio.Semaphore] = {}
        self._holder_prefix = f"{os.getpid()}:{secrets.token_hex(4)}"
        self._holders = itertools.count()
        self._finished: list[HeldSlot] = []
        self._flush: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()
        self._blocked_until: dict[str, float] = {}
        self.in_flight: dict[str, int] = {}
        """Requests in flight per realm from this process (for tests and diagnostics)."""
        self.peak_in_flight: dict[str, int] = {}

    @property
    def settings(self) -> LimitSettings:
        return self._settings

    def _semaphore(self, realm_id: str, background: bool) -> asyncio.Semaphore:
        # Background asks wait in a queue of their own, so they never hold up real-time ones here.
        key = (realm_id, background)
        semaphore = self._local.get(key)
        if semaphore is None:
            size = self._settings.in_flight
            if background:
                size = max(1, size - self._settings.background_keep_free)
            semaphore = self._local[key] = asyncio.Semaphore(size)
        return semaphore

    @contextlib.asynccontextmanager
    async def slot(
        self, realm_id: str, *, batch: bool = False, background: bool = False
    ) -> AsyncIterator[Hold]:
        """Hold the right to have one request in flight to `realm_id` for the block."""
        async with self._semaphore(realm_id, background):
            held = await self._take(realm_id, batch=batch, background=background)
            now = self.in_flight.get(realm_id, 0) + 1
            self.in_flight[realm_id] = now
            self.peak_in_flight[realm_id] = max(self.peak_in_flight.get(realm_id, 0), now)
            hold = Hold()
            try:
                yield hold
            finally:
                self.in_flight[realm_id] -= 1
                if held is not None:
                    self._give_back(dataclasses.replace(held, keep_slot=hold.kept))

    async def block(self, realm_id: str, seconds: float) -> None:
        """QuickBooks answered 429: no request to the realm from any process for `seconds`."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        self._blocked_until[realm_id] = max(self._blocked_until.get(realm_id, 0.0), until)
        if self._budget is not None:
            await self._budget.block(realm_id, seconds)

    async def aclose(self) -> None:
        """Give back every finished slot now (at shutdown)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        await self._release_finished()
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)

    # --- taking and giving back -------------------------------------------------------------

    async def _take(self, realm_id: str, *, batch: bool, background: bool) -> HeldSlot | None:
        await self._wait_local_block(realm_id)
        if self._budget is None:
            return None
        settings = self._settings
        ask = SlotAsk(
            realm_id=realm_id,
            holder=f"{self._holder_prefix}:{next(self._holders)}",
            lease_seconds=settings.lease_seconds,
            capacity=settings.in_flight,
            keep_free=settings.background_keep_free if background else 0,
            rings=settings.rings(batch=batch, background=background),
            background=background,
            lend_after_seconds=settings.lend_reserve_after_seconds,
        )
        poll = settings.poll_seconds
        # Counted in time slept (not the wall clock) so an injected `sleep` bounds it too.
        busy_waited = 0.0
        while True:
            slot, wait = await self._take_once(ask)
            if slot is not None:
                return HeldSlot(realm_id, slot, ask.holder)
            if wait > 0:
                await self._sleep(wait)
                continue
            if busy_waited >= settings.slot_wait_seconds:
                raise errors.Unreachable(
                    f"no free request slot for QuickBooks company {realm_id} after "
                    f"{busy_waited:.0f} s; nothing was sent",
                    remedy="rentsync's request slots for this QuickBooks company stayed taken; "
                    "nothing was sent and the sync retries on its own.",
                )
            pause = poll * (0.5 + random.random())  # noqa: S311 - jitter only
            await self._sleep(pause)
            busy_waited += pause
            poll = min(poll * 2, 0.2)

    async def _take_once(self, ask: SlotAsk) -> tuple[int | None, float]:
        assert self._budget is not None
        finished, self._finished = tuple(self._finished), []
        taking = asyncio.ensure_future(
            self._budget.take(dataclasses.replace(ask, release=finished))
        )
        try:
            # Shielded: a cancelled caller must not leave a slot taken that nobody gives back.
            return await asyncio.shield(taking)
        except asyncio.CancelledError:
            taking.add_done_callback(lambda done: self._abandoned(done, ask))
            raise
        except BaseException:
            self._finished.extend(finished)  # not given back: try again with the next take
            raise

    def _abandoned(self, done: asyncio.Future[tuple[int | None, float]], ask: SlotAsk) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        slot, _ = done.result()
        if slot is not None:
            self._give_back(HeldSlot(ask.realm_id, slot, ask.holder))

    def _give_back(self, held: HeldSlot) -> None:
        self._finished.append(held)
        if self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_later(self._settings.release_delay_seconds, self._flush_now)

    def _flush_now(self) -> None:
        self._flush = None
        if self._finished:
            task = asyncio.ensure_future(self._release_finished())
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def _release_finished(self) -> None:
        if self._budget is None or not self._finished:
            self._finished.clear()
            return
        finished, self._finished = tuple(self._finished), []
        try:
            await self._budget.release(finished)
        except Exception:  # the leases end on their own; the next take gives them back
            self._finished.extend(finished)

    async def _wait_local_block(self, realm_id: str) -> None:
        until = self._blocked_until.get(realm_id)
        if until is None:
            return
        left = until - asyncio.get_running_loop().time()
        if left > 0:
            await self._sleep(left)
        if self._blocked_until.get(realm_id) == until:  # waited out (and not blocked again since)
            del self._blocked_until[realm_id]
