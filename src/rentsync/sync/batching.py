"""A bulk sync's creates and lookups sent together through QBO's batch endpoint (R18, reference
§6).

Why here, and why this way: a bulk sync runs each document's ordinary sync job (`sync.bulk`),
so every write already goes through the `TransactionWriter` or `References` with its write
intent noted, its lookup-before-create done and its requestid derived (B1). What changes is only
the transport of two kinds of call made by bulk-triggered runs (`Engine.client_for`):

- creates (`create`), and
- lookups: the queries under `find_by`, `query_all`, `find_by_doc_number` (a name-list record
  found by name before it is created, a document looked up after an uncertain create).

Those that bulk jobs of one realm make at about the same time (within `linger` seconds, in this
process) travel as the items of one batch request of at most 30: a create as an operation item,
a query as a Query item; look-ups by name go as merged single queries instead (below). Each
caller gets its own item's outcome, exactly as from a single call:

- the object QBO created, or the query's page (matched by bId, never by order);
- the item's Fault, classified by the one errors catalogue (`errors.build`), so the retry table
  and the writer treat it as they treat a single refusal (e.g. 6140 -> adopt or fail);
- when the batch as a whole failed (lost answer, 5xx, timeout) or QBO answered without the item:
  a create is uncertain (its write intent stays, and its retry looks the document up before
  creating: nothing is posted twice); a query is sent once more (as a single query would be
  retried), then its error is the caller's.

QBO runs a batch's items one after another, but an item cannot see what an earlier item of the
same batch created [B-BATCH]. So within a batch every query comes before every create: a lookup
never runs after a create of the same batch that it could not see (it sees what it would have
seen had it gone alone, a moment earlier). Creates that refer to one another never share a batch
anyway: an order's customer and products are settled (found or created, awaited) before its
invoice is mapped.

Look-ups by name (`find_by` on DisplayName or Name: a customer, vendor or item found before it
is created, B1) that meet within `lookup_linger_seconds` (short: a part of a round trip) are
asked as one query, `Name IN ('a', 'b', ...)` (at most 30 names and `LOOKUP_QUERY_CHARS`), sent
as a single request, never as a batch item, and each caller gets the rows whose name matches its
own as QBO's `=` matches (ignoring case, reference §5; whether QBO also ignores surrounding
spaces is UNCONFIRMED). Why single: such a query already carries up to 30 names, as a batch
would, but costs one of the minute's 440 single requests instead of one of its 40 batches (the
budget that bounds a bulk run), and it does not wait through the 1.5 s batch linger, which a
reference job (a look-up, then its create) would otherwise wait through twice while holding a
slot of the bulk lane. Batches stay for creates. The reference's lock and its job's order keep
B1: its look-up is answered before its create is sent. A lone look-up is the `=` query the
client itself sends; a page as long as QBO's longest (1,000 rows) sends each caller's look-up
again on its own, paged as alone.

QBO takes at most 40 batches a minute per realm and app (counted here per process, over the
limiter's window, about `MINUTE_MARGIN_SECONDS` longer). Once half of them are spent (a run longer
than the minute's batches), a few calls at a time (`SINGLES_BESIDE_BATCHES`) go singly at once
beside the batches: batches alone would hold a long run to 40 x 30 a minute and leave the
singles' share of the minute unused (on a machine that keeps up with the ceiling and no faster,
about the share the bulk estimate counts, `domain.bulk.singles_share`; on a faster one the
batches fill at once and fewer go singly). Once all 40 are spent, the same few go singly at a
time, the next waiting one as soon as a single is answered, and the other calls wait for the
next batch the window frees, which then goes full at once. (Before, every call went singly once
the batches were spent: the bulk lane's slots all waited as singles in the limiter, about 5 s
each, and when the window freed a batch only the few calls made since could fill it: the first
batches of each minute went a third full, 15-25 % of the batches' items unused.) A lone call
never waits for a batch: with fewer than `SINGLES_BESIDE_BATCHES` singles out it goes at once.
(Per process: several worker processes together may ask for more; the limiter then holds the
extra batches.)

A batch of creates only has one requestid (at most 36 characters, derived from its items'
requestids); a batch carrying queries has none, since QBO answers a resent requestid with the
first answer, which for a lookup may be stale (the coalescer never resends a batch: a caller
looks up and writes again on its own). bIds are "1".."30" (at most 10 characters). A lone call is
sent as a single call. Batches count toward the 500 requests and the 40 batches a minute (the
limiter).

Every task of the coalescer (a linger, a send) starts through `_start`, which fails the calls it
carries if it ends abnormally: calls still waiting to be sent as nothing sent (`Unreachable`),
calls being sent as uncertain; both retried by the sync's retry table.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rentsync.domain import bulk as plan_rules
from rentsync.domain import qbo as qbo_rules
from rentsync.qbo import errors
from rentsync.qbo.client import (
    MAX_BATCH_ITEMS,
    MAX_RESULTS,
    BatchItem,
    BatchOutcome,
    Queries,
    QueryPage,
    Result,
    quote,
)
from rentsync.sync.ports import QboGateway, Written

BATCHES_PER_MINUTE = qbo_rules.BATCHES_PER_MINUTE
LINGER_SECONDS = 0.05
"""How long the first call of a batch waits for others: a small part of one QBO round trip (a
bulk run waits longer, `sync.bulk.BATCH_LINGER_SECONDS`). Also how long look-ups by name wait
for one another (they always go singly, merged)."""
BATCH_WINDOW_SECONDS = 60.0 + qbo_rules.MINUTE_MARGIN_SECONDS
"""The window of the 40 batches a minute, as the limiter counts it: counted shorter here, a batch
would wait in the limiter for the rest, with its 30 callers."""
SINGLES_BESIDE_BATCHES = 4
"""Creates sent singly at once, beside the batches, once half the window's batches are spent:
enough waiting on the limiter that the singles' share of the minute is used while batches still
go (the bulk share's 7 in-flight slots are the batches' too)."""
LOOKUP_QUERY_CHARS = 2_000
"""The longest merged look-up query: sent alone it travels in the URL (GET .../query), whose
length Intuit does not publish; 2,000 characters stay within what HTTP servers commonly take even
URL-encoded. Names are up to 500 characters, so fewer than 30 may share a query."""
MERGED_LOOKUP_FIELDS = frozenset({"DisplayName", "Name"})
"""Look-ups by these fields meet in one `IN` query; others (DocNumber, a reference) go alone."""


class BatchCapable(Protocol):
    """What the coalescer needs of a client (`rentsync.qbo.client.QboClient`)."""

    realm_id: str

    async def create(
        self, entity: str, payload: Mapping[str, Any], *, requestid: str
    ) -> Written: ...

    async def query(self, statement: str) -> QueryPage: ...

    async def batch(
        self, items: list[BatchItem], *, requestid: str | None = None
    ) -> Mapping[str, BatchOutcome]: ...


@dataclass(kw_only=True)
class _Call:
    """One caller's create (`entity`, `payload`, `requestid`) or query (`query`)."""

    client: BatchCapable
    entity: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
    requestid: str = ""
    query: str | None = None
    find: tuple[str, str, str] | None = None
    """A look-up by name: entity, field, value (answered with the matching rows)."""
    answer: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def what(self) -> str:
        if self.query is not None:
            return f"query {self.query}"
        if self.find is not None:
            return "look-up {} {} = {}".format(*self.find)
        return f"{self.entity} create, requestid {self.requestid}"


@dataclass(frozen=True)
class _Unit:
    """One request or batch item: a create, a query, or the look-ups of several callers."""

    calls: tuple[_Call, ...]
    statement: str | None = None
    """The query sent (None: a create)."""

    @property
    def client(self) -> BatchCapable:
        return self.calls[0].client

    def item(self, bid: str) -> BatchItem:
        if self.statement is not None:
            return BatchItem(bid=bid, query=self.statement)
        call = self.calls[0]
        return BatchItem(bid=bid, operation="create", entity=call.entity, payload=call.payload)

    async def answer(self, page: QueryPage) -> None:
        """Each caller its answer from the query's page: its own page, or its own rows."""
        if self.calls[0].find is None:
            _answer(self.calls[0], page)
            return
        if len(page.entities) >= MAX_RESULTS:  # more pages: each look-up on its own, paged
            await asyncio.gather(*(_find_alone(call) for call in self.calls))
            return
        for call in self.calls:
            assert call.find is not None
            _, name, value = call.find
            if len(self.calls) == 1:
                _answer(call, list(page.entities))
            else:
                _answer(call, [row for row in page.entities if _same(row.get(name), value)])

    def fail(self, exc: BaseException) -> None:
        for call in self.calls:
            _fail(call, exc)


def _units(calls: list[_Call]) -> list[_Unit]:
    """The calls as requests or batch items: look-ups of one entity by one field merged, 30
    values a query; every other call one of its own."""
    units: list[_Unit] = []
    finds: dict[tuple[str, str], list[_Call]] = {}
    for call in calls:
        if call.find is not None:
            finds.setdefault(call.find[:2], []).append(call)
        else:
            units.append(_Unit((call,), call.query))
    for (entity, name), group in finds.items():
        chunk: list[_Call] = []
        for call in group:
            longer = [*chunk, call]
            if chunk and (
                len(longer) > MAX_BATCH_ITEMS
                or len(_lookup_statement(entity, name, longer)) > LOOKUP_QUERY_CHARS
            ):
                units.append(_Unit(tuple(chunk), _lookup_statement(entity, name, chunk)))
                longer = [call]
            chunk = longer
        if chunk:
            units.append(_Unit(tuple(chunk), _lookup_statement(entity, name, chunk)))
    return units


def _lookup_statement(entity: str, name: str, calls: Sequence[_Call]) -> str:
    values = list(dict.fromkeys(call.find[2] for call in calls if call.find is not None))
    if len(values) == 1:
        where = f"{name} = {quote(values[0])}"  # what `find_by` itself sends
    else:
        where = f"{name} IN ({', '.join(quote(value) for value in values)})"
    return f"SELECT * FROM {entity} WHERE {where} STARTPOSITION 1 MAXRESULTS {MAX_RESULTS}"  # noqa: S608 - QBO query


def _same(found: Any, wanted: str) -> bool:
    """QBO's `=` on a string property: equal, ignoring case."""
    return isinstance(found, str) and found.lower() == wanted.lower()


def batch_request_id(requestids: list[str]) -> str:
    """The batch's requestid: the same items (in any order) give the same one; 32 characters."""
    digest = hashlib.blake2b("\n".join(sorted(requestids)).encode(), digest_size=16)
    return digest.hexdigest()


class BatchCoalescer:
    """One per process: gathers the creates and lookups of bulk jobs per realm into batches."""

    def __init__(
        self,
        *,
        linger_seconds: float = LINGER_SECONDS,
        lookup_linger_seconds: float = LINGER_SECONDS,
        max_items: int = MAX_BATCH_ITEMS,
        batches_per_minute: int = BATCHES_PER_MINUTE,
        singles_beside_batches: int = SINGLES_BESIDE_BATCHES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._beside = singles_beside_batches
        self._singles: dict[str, int] = {}
        """Per realm, single requests of this process not answered yet."""
        self._linger = linger_seconds
        self._lookup_linger = lookup_linger_seconds
        self._finds: dict[str, list[_Call]] = {}
        """Per realm, the look-ups by name waiting to go as merged single queries."""
        self._find_generation: dict[str, int] = {}
        """Per realm, how many times its look-ups were sent (voids a stale linger timer)."""
        self._max = max_items
        self._per_minute = batches_per_minute
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._waiting: dict[str, list[_Call]] = {}
        self._generation: dict[str, int] = {}
        """Per realm, how many batches were taken: tells a linger timer whether its batch went."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches_sent = 0
        """Batch requests sent (for tests and benchmarks)."""
        self.queries_batched = 0
        """Queries and look-ups answered from batches (for tests and benchmarks)."""

    def gateway(self, client: QboGateway) -> QboGateway:
        """`client` whose creates and lookups go through the coalescer (every other call goes
        as it is)."""
        if not isinstance(client, _BatchingGateway) and hasattr(client, "batch"):
            return _BatchingGateway(client, self)
        return client

    async def create(
        self, client: BatchCapable, entity: str, payload: Mapping[str, Any], requestid: str
    ) -> Written:
        written: Written = await self._enqueue(
            _Call(client=client, entity=entity, payload=payload, requestid=requestid)
        )
        return written

    async def query(self, client: BatchCapable, statement: str) -> QueryPage:
        page: QueryPage = await self._enqueue(_Call(client=client, query=statement))
        return page

    async def find_by(
        self, client: BatchCapable, entity: str, field_name: str, value: str
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._enqueue(
            _Call(client=client, find=(entity, field_name, value))
        )
        return rows

    async def _enqueue(self, call: _Call) -> Any:
        realm_id = call.client.realm_id
        if call.find is not None:
            return await self._look_up(realm_id, call)
        if self._single_beside(realm_id):
            self._send_single(_Unit((call,), call.query))
            return await call.answer
        waiting = self._waiting.setdefault(realm_id, [])
        waiting.append(call)
        if (
            len(waiting) >= self._max
            and len(_units(waiting)) >= self._max
            and self._batches_left(realm_id)
        ):
            self._take(realm_id)
        elif len(waiting) == 1:
            generation = self._generation.get(realm_id, 0)
            self._start(
                self._linger_then_take(realm_id, generation, self._linger),
                orphans=self._unsent(self._waiting, realm_id, waiting),
            )
        return await call.answer

    async def _look_up(self, realm_id: str, call: _Call) -> Any:
        """A look-up by name: it waits up to `lookup_linger_seconds` for others of the realm
        (30 waiting go at once), then those that met go as single merged queries (`_units`),
        never as batch items."""
        waiting = self._finds.setdefault(realm_id, [])
        waiting.append(call)
        if len(waiting) >= self._max:
            self._send_lookups(realm_id)
        elif len(waiting) == 1:
            generation = self._find_generation.get(realm_id, 0)
            self._start(
                self._linger_then_look_up(realm_id, generation),
                orphans=self._unsent(self._finds, realm_id, waiting),
            )
        return await call.answer

    async def _linger_then_look_up(self, realm_id: str, generation: int) -> None:
        await asyncio.sleep(self._lookup_linger)
        if self._find_generation.get(realm_id, 0) == generation:
            self._send_lookups(realm_id)

    def _send_lookups(self, realm_id: str) -> None:
        """Send the realm's waiting look-ups now; the linger timer of their first is void."""
        units = _units(self._finds.get(realm_id, []))  # before the pop: if it fails, they wait
        self._finds.pop(realm_id, None)  # as orphans of the linger task, failed at its end
        self._find_generation[realm_id] = self._find_generation.get(realm_id, 0) + 1
        for unit in units:
            self._send_single(unit)

    def _take(self, realm_id: str) -> None:
        """Send what waits for the realm now (up to a batch's items), as one request. The
        linger timer started by this batch's first call is void from here: left to fire, it
        would send the next batch before that one had its own linger to fill (batches of 30,
        4, 30, 3, ...). Calls beyond the batch (they gathered while no batch was left) wait for
        the next one, without a linger of their own: they have waited already."""
        waiting = self._waiting.pop(realm_id, [])
        calls, rest = waiting[: self._max], waiting[self._max :]
        self._generation[realm_id] = self._generation.get(realm_id, 0) + 1
        if rest:
            self._waiting[realm_id] = rest
            generation = self._generation[realm_id]
            self._start(
                self._linger_then_take(realm_id, generation, 0.0),
                orphans=self._unsent(self._waiting, realm_id, rest),
            )
        self._start(self._dispatch(realm_id, calls), orphans=_sent(calls))

    async def _linger_then_take(self, realm_id: str, generation: int, linger: float) -> None:
        """After the linger, the batch goes as soon as the window has one left (checked at
        each linger: the clock may be a test's); meanwhile up to `singles_beside_batches` of
        its calls at a time go singly (`_promote`)."""
        await asyncio.sleep(linger)
        while self._generation.get(realm_id, 0) == generation:
            wait = self._until_batch(realm_id)
            if wait <= 0:
                self._take(realm_id)
                return
            await asyncio.sleep(min(wait, max(self._linger, LINGER_SECONDS)))

    def _start(
        self,
        work: Coroutine[Any, Any, None],
        *,
        orphans: Callable[[BaseException], None],
    ) -> None:
        """Run `work` as the coalescer's task. If it ends abnormally (an error, or cancelled),
        `orphans` fails the calls it was to send or answer: otherwise they would wait forever,
        and a realm's waiting list left behind would keep every later call of the realm
        waiting too (no new linger starts while the list is not empty)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)

        def ended(done: asyncio.Task[None]) -> None:
            self._tasks.discard(done)
            error = asyncio.CancelledError() if done.cancelled() else done.exception()
            if error is not None:
                orphans(error)

        task.add_done_callback(ended)

    def _send_single(self, unit: _Unit) -> None:
        self._start(self._single(unit), orphans=_sent(unit.calls))

    def _unsent(
        self, queues: dict[str, list[_Call]], realm_id: str, waiting: list[_Call]
    ) -> Callable[[BaseException], None]:
        """Fails the calls of `waiting`, the realm's list in `queues`, if it is still there
        (not sent, and not replaced by a newer list with a task of its own): nothing was sent,
        so the sync retries them as it retries an unreachable QuickBooks."""

        def fail(cause: BaseException) -> None:
            if queues.get(realm_id) is not waiting:
                return
            del queues[realm_id]
            error = errors.Unreachable(
                f"rentsync's batching of requests for QuickBooks company {realm_id} stopped "
                f"before sending ({type(cause).__name__}: {cause}); nothing was sent",
                remedy="Nothing was sent to QuickBooks; the sync retries on its own.",
            )
            for call in waiting:
                _fail(call, error)

        return fail

    async def _dispatch(self, realm_id: str, calls: list[_Call]) -> None:
        if not calls:
            return
        units = _units(calls)
        if len(units) == 1 or not self._batch_allowed(realm_id):
            await asyncio.gather(*(self._single(unit) for unit in units))
            return
        await self._batch(realm_id, units)

    def _single_beside(self, realm_id: str) -> bool:
        """Whether a call goes singly at once beside the batches: once half the window's batches
        are spent (a long run, which batches alone would hold to 40 x 30 a minute), while fewer
        than `singles_beside_batches` single requests wait. A short run still sends every call
        in batches (the fewest requests). Once the window's batches are all spent, the same:
        the other calls wait for the next batch, and go singly one by one as the singles before
        them are answered (`_promote`), rather than all wait as singles in the limiter, where
        they would stay single when a batch frees (the batches after such a wait went a third
        full, and the lane's slots all waited in the limiter)."""
        return self._long_run(realm_id) and self._singles.get(realm_id, 0) < self._beside

    def _promote(self, realm_id: str) -> None:
        """Once the window's batches are spent, the calls waiting for the next batch go singly
        one by one as the singles' places free (in the order they came)."""
        waiting = self._waiting.get(realm_id)
        if not waiting or self._batches_left(realm_id):
            return  # a batch goes at its linger's end
        while waiting and self._single_beside(realm_id):
            call = waiting.pop(0)
            self._send_single(_Unit((call,), call.query))
        if not waiting:
            self._waiting.pop(realm_id, None)
            self._generation[realm_id] = self._generation.get(realm_id, 0) + 1  # timer void

    def _until_batch(self, realm_id: str) -> float:
        """Seconds until the window has a batch left for the realm (0: it has one now)."""
        if self._batches_left(realm_id) or not self._sent[realm_id]:
            return 0.0
        return self._sent[realm_id][0] + BATCH_WINDOW_SECONDS - self._clock()

    def _long_run(self, realm_id: str) -> bool:
        """Half the window's batches spent: a run that batches alone would hold to 40 x 30 a
        minute (the rule the bulk estimate models, `domain.bulk.long_run`)."""
        self._batches_left(realm_id)  # drops the batches older than the window
        return plan_rules.long_run(len(self._sent[realm_id]), self._per_minute)

    def _single(self, unit: _Unit) -> Coroutine[Any, Any, None]:
        """`unit` sent as a single request, counted among the realm's singles from now (not
        from when the coroutine starts: calls of the same moment see it)."""
        realm_id = unit.client.realm_id
        self._singles[realm_id] = self._singles.get(realm_id, 0) + 1

        async def send() -> None:
            try:
                await _single(unit)
            finally:
                self._singles[realm_id] -= 1
                self._promote(realm_id)

        return send()

    def _batches_left(self, realm_id: str) -> bool:
        """Whether this process sent fewer than the realm's batches in the window."""
        now = self._clock()
        sent = self._sent.setdefault(realm_id, deque())
        while sent and sent[0] <= now - BATCH_WINDOW_SECONDS:
            sent.popleft()
        return len(sent) < self._per_minute

    def _batch_allowed(self, realm_id: str) -> bool:
        """Whether a batch may go now; if so, counts it."""
        if not self._batches_left(realm_id):
            return False
        self._sent[realm_id].append(self._clock())
        return True

    async def _batch(self, realm_id: str, units: list[_Unit]) -> None:
        # Queries first: an item does not see what an earlier item of the batch created.
        queries = [unit for unit in units if unit.statement is not None]
        creates = [unit for unit in units if unit.statement is None]
        ordered = queries + creates
        items = [unit.item(str(number)) for number, unit in enumerate(ordered, start=1)]
        requestid = None if queries else batch_request_id([u.calls[0].requestid for u in creates])
        try:
            outcomes = await ordered[0].client.batch(items, requestid=requestid)
        except BaseException as exc:
            for unit in creates:
                unit.fail(_as_uncertain(exc))
            if not isinstance(exc, Exception):
                for unit in queries:
                    unit.fail(_as_uncertain(exc))
                raise
            if queries and creates:
                # Sent once more, now as a read of their own (which the client retries as it
                # retries a single query): a lookup is never answered "uncertain".
                await self._dispatch(realm_id, [call for u in queries for call in u.calls])
            else:
                for unit in queries:
                    unit.fail(_as_uncertain(exc))
            return
        self.batches_sent += 1
        self.queries_batched += sum(len(unit.calls) for unit in queries)
        for item, unit in zip(items, ordered, strict=True):
            outcome = outcomes.get(item.bid)
            if isinstance(outcome, errors.QboError):
                unit.fail(outcome)
            elif unit.statement is not None and isinstance(outcome, QueryPage):
                await unit.answer(outcome)
            elif unit.statement is None and isinstance(outcome, Result):
                _answer(unit.calls[0], outcome)
            elif unit.statement is not None:
                unit.fail(
                    errors.ServerError(
                        f"QuickBooks answered the batch without item {item.bid}",
                        detail=unit.calls[0].what(),
                    )
                )
            else:
                unit.fail(
                    errors.UncertainOutcome(
                        f"QuickBooks answered the batch without item {item.bid}",
                        detail=unit.calls[0].what(),
                    )
                )


async def _single(unit: _Unit) -> None:
    try:
        if unit.statement is not None:
            await unit.answer(await unit.client.query(unit.statement))
            return
        call = unit.calls[0]
        outcome = await call.client.create(call.entity, call.payload, requestid=call.requestid)
    except BaseException as exc:
        if not isinstance(exc, Exception):
            unit.fail(_as_uncertain(exc))  # not the caller's own cancellation
            raise
        unit.fail(exc)
        return
    _answer(unit.calls[0], outcome)


def _sent(calls: Sequence[_Call]) -> Callable[[BaseException], None]:
    """Fails those of `calls` not answered yet (their task ended abnormally): they may have
    been sent, so their outcome is uncertain (a create is looked up before it is tried again)."""

    def fail(cause: BaseException) -> None:
        for call in calls:
            _fail(call, _as_uncertain(cause))

    return fail


async def _find_alone(call: _Call) -> None:
    assert call.find is not None
    try:
        rows = await Queries.find_by(_Alone(call.client), *call.find)
    except BaseException as exc:
        _fail(call, exc)
        if not isinstance(exc, Exception):
            raise
        return
    _answer(call, rows)


def _answer(call: _Call, outcome: Any) -> None:
    if not call.answer.done():
        call.answer.set_result(outcome)


def _fail(call: _Call, exc: BaseException) -> None:
    if not call.answer.done():
        call.answer.set_exception(exc)


def _as_uncertain(exc: BaseException) -> BaseException:
    """A failure of the whole batch, for each of its items: a QboError keeps its class (a
    transient failure of the batch is one of each item; a refusal of the request refused them
    all); anything else may have happened after QBO saved the items."""
    if isinstance(exc, errors.QboError):
        return exc
    return errors.UncertainOutcome(f"the batch request failed: {type(exc).__name__}: {exc}")


class _BatchingGateway(Queries):
    """A client whose `create` and page `query` (and so `find_by`, `query_all`, ...) go through
    the coalescer; everything else is the client's."""

    def __init__(self, client: Any, coalescer: BatchCoalescer) -> None:
        self._client = client
        self._coalescer = coalescer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def create(self, entity: str, payload: Mapping[str, Any], *, requestid: str) -> Written:
        return await self._coalescer.create(self._client, entity, payload, requestid)

    async def query(self, statement: str) -> QueryPage:
        return await self._coalescer.query(self._client, statement)

    async def find_by(self, entity: str, field_name: str, value: str) -> list[dict[str, Any]]:
        if field_name in MERGED_LOOKUP_FIELDS:
            return await self._coalescer.find_by(self._client, entity, field_name, value)
        return await super().find_by(entity, field_name, value)


class _Alone(Queries):
    """The client's own paged look-up, each page a request of its own (not coalesced)."""

    def __init__(self, client: BatchCapable) -> None:
        self._client = client

    async def query(self, statement: str) -> QueryPage:
        return await self._client.query(statement)
