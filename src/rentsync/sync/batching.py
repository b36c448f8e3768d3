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
a query as a Query item. Each caller gets its own item's outcome, exactly as from a single call:

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

QBO takes at most 40 batches a minute per realm and app. A batch of few items spends one of
those 40 for little, so when this process has sent 40 batches to a realm in the last minute,
the calls go singly (concurrently) rather than wait for the next minute: batches help while they
are the cheaper way, never hold the run up. (Per process: several worker processes together may
ask for more; the limiter then holds the extra batches.)

A batch of creates only has one requestid (at most 36 characters, derived from its items'
requestids); a batch carrying queries has none, since QBO answers a resent requestid with the
first answer, which for a lookup may be stale (the coalescer never resends a batch: a caller
looks up and writes again on its own). bIds are "1".."30" (at most 10 characters). A lone call is
sent as a single call. Batches count toward the 500 requests and the 40 batches a minute (the
limiter).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rentsync.domain import qbo as qbo_rules
from rentsync.qbo import errors
from rentsync.qbo.client import (
    MAX_BATCH_ITEMS,
    BatchItem,
    BatchOutcome,
    Queries,
    QueryPage,
    Result,
)
from rentsync.sync.ports import QboGateway, Written

BATCHES_PER_MINUTE = qbo_rules.BATCHES_PER_MINUTE
LINGER_SECONDS = 0.05
"""How long the first call of a batch waits for others: a small part of one QBO round trip."""


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
    answer: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def item(self, bid: str) -> BatchItem:
        if self.query is not None:
            return BatchItem(bid=bid, query=self.query)
        return BatchItem(bid=bid, operation="create", entity=self.entity, payload=self.payload)

    def what(self) -> str:
        if self.query is not None:
            return f"query {self.query}"
        return f"{self.entity} create, requestid {self.requestid}"


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
        max_items: int = MAX_BATCH_ITEMS,
        batches_per_minute: int = BATCHES_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._linger = linger_seconds
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
        """Query items sent in batches (for tests and benchmarks)."""

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

    async def _enqueue(self, call: _Call) -> Any:
        realm_id = call.client.realm_id
        waiting = self._waiting.setdefault(realm_id, [])
        waiting.append(call)
        if len(waiting) >= self._max:
            self._take(realm_id)
        elif len(waiting) == 1:
            self._start(self._linger_then_take(realm_id, self._generation.get(realm_id, 0)))
        return await call.answer

    def _take(self, realm_id: str) -> None:
        """Send what waits for the realm now, as one request. The linger timer started by this
        batch's first call is void from here: left to fire, it would send the next batch
        before that one had its own linger to fill (batches of 30, 4, 30, 3, ...)."""
        calls = self._waiting.pop(realm_id, [])
        self._generation[realm_id] = self._generation.get(realm_id, 0) + 1
        self._start(self._dispatch(realm_id, calls))

    async def _linger_then_take(self, realm_id: str, generation: int) -> None:
        await asyncio.sleep(self._linger)
        if self._generation.get(realm_id, 0) == generation:
            self._take(realm_id)

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, realm_id: str, calls: list[_Call]) -> None:
        if not calls:
            return
        if len(calls) == 1 or not self._batch_allowed(realm_id):
            await asyncio.gather(*(_single(call) for call in calls))
            return
        await self._batch(realm_id, calls)

    def _batch_allowed(self, realm_id: str) -> bool:
        """Whether this process sent fewer than the realm's batches a minute; if so, counts one."""
        now = self._clock()
        sent = self._sent.setdefault(realm_id, deque())
        while sent and sent[0] <= now - 60:
            sent.popleft()
        if len(sent) >= self._per_minute:
            return False
        sent.append(now)
        return True

    async def _batch(self, realm_id: str, calls: list[_Call]) -> None:
        # Queries first: an item does not see what an earlier item of the batch created.
        queries = [call for call in calls if call.query is not None]
        creates = [call for call in calls if call.query is None]
        ordered = queries + creates
        items = [call.item(str(number)) for number, call in enumerate(ordered, start=1)]
        requestid = None if queries else batch_request_id([c.requestid for c in creates])
        try:
            outcomes = await ordered[0].client.batch(items, requestid=requestid)
        except BaseException as exc:
            for call in creates:
                _fail(call, _as_uncertain(exc))
            if not isinstance(exc, Exception):
                for call in queries:
                    _fail(call, _as_uncertain(exc))
                raise
            if queries and creates:
                # Sent once more, now as a read of their own (which the client retries as it
                # retries a single query): a lookup is never answered "uncertain".
                await self._dispatch(realm_id, queries)
            else:
                for call in queries:
                    _fail(call, _as_uncertain(exc))
            return
        self.batches_sent += 1
        self.queries_batched += len(queries)
        for item, call in zip(items, ordered, strict=True):
            outcome = outcomes.get(item.bid)
            if isinstance(outcome, errors.QboError):
                _fail(call, outcome)
            elif isinstance(outcome, QueryPage if call.query is not None else Result):
                _answer(call, outcome)
            elif call.query is not None:
                _fail(
                    call,
                    errors.ServerError(
                        f"QuickBooks answered the batch without item {item.bid}",
                        detail=call.what(),
                    ),
                )
            else:
                _fail(
                    call,
                    errors.UncertainOutcome(
                        f"QuickBooks answered the batch without item {item.bid}",
                        detail=call.what(),
                    ),
                )


async def _single(call: _Call) -> None:
    try:
        if call.query is not None:
            outcome: Any = await call.client.query(call.query)
        else:
            outcome = await call.client.create(call.entity, call.payload, requestid=call.requestid)
    except BaseException as exc:
        _fail(call, exc)
        if not isinstance(exc, Exception):
            raise
        return
    _answer(call, outcome)


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
