"""Creates of a bulk sync sent together through QBO's batch endpoint (R18, reference §6).

Why here, and why this way: a bulk sync runs each order's ordinary sync job (`sync.bulk`), so
every create already went through the `TransactionWriter` with its write intent noted, its
lookup-before-create done and its requestid derived (B1). What changes is only the transport of
the create itself: the creates that bulk jobs of one realm send at about the same time (within
`linger` seconds, in this process) travel as the items of one batch request of at most 30.
Each job gets its own item's outcome back, exactly as from a single create:

- the object QBO created (matched by bId, never by order);
- the item's Fault, classified by the one errors catalogue (`errors.build`), so the retry table
  and the writer treat it as they treat a single refusal (e.g. 6140 -> adopt or fail);
- an uncertain outcome when the batch as a whole failed after it may have reached QBO (lost
  answer, 5xx, timeout) or QBO answered without the item: the job's write intent stays, and its
  retry looks the order up before creating (the writer's rule), so nothing is posted twice.

QBO runs a batch's items one after another, but an item cannot see what an earlier item of the
same batch created [B-BATCH]: only creates that refer to nothing created in the same batch are
sent together. An order's customer and products are settled (found or created, awaited) before
its invoice is mapped, so an invoice never shares a batch with its own references.

QBO takes at most 40 batches a minute per realm and app. A batch of few items spends one of
those 40 for little, so when this process has sent 40 batches to a realm in the last minute,
the creates go as single creates (concurrently) rather than wait for the next minute: batches
help while they are the cheaper way, never hold the run up. (Per process: several worker
processes together may ask for more; the limiter then holds the extra batches.)

A batch has one requestid (at most 36 characters, derived from its items' requestids) and bIds
"1".."30" (at most 10 characters). A lone create is sent as a single create, with its own
requestid. Batches count toward the 500 requests and the 40 batches a minute (the limiter).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rentsync.domain import qbo as qbo_rules
from rentsync.qbo import errors
from rentsync.qbo.client import MAX_BATCH_ITEMS, BatchItem, BatchOutcome
from rentsync.sync.ports import QboGateway, Written

BATCHES_PER_MINUTE = qbo_rules.BATCHES_PER_MINUTE
LINGER_SECONDS = 0.05
"""How long the first create of a batch waits for others: a small part of one QBO round trip."""


class BatchCapable(Protocol):
    """What the coalescer needs of a client (`rentsync.qbo.client.QboClient`)."""

    realm_id: str

    async def create(
        self, entity: str, payload: Mapping[str, Any], *, requestid: str
    ) -> Written: ...

    async def batch(
        self, items: list[BatchItem], *, requestid: str | None = None
    ) -> Mapping[str, BatchOutcome]: ...


@dataclass(kw_only=True)
class _Create:
    client: BatchCapable
    entity: str
    payload: Mapping[str, Any]
    requestid: str
    answer: asyncio.Future[Written] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def batch_request_id(requestids: list[str]) -> str:
    """The batch's requestid: the same items (in any order) give the same one; 32 characters."""
    digest = hashlib.blake2b("\n".join(sorted(requestids)).encode(), digest_size=16)
    return digest.hexdigest()


class CreateCoalescer:
    """One per process: gathers the creates of bulk jobs per realm into batches."""

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
        self._waiting: dict[str, list[_Create]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches_sent = 0
        """Batch requests sent (for tests and benchmarks)."""

    def gateway(self, client: QboGateway) -> QboGateway:
        """`client` whose creates go through the coalescer (every other call goes as it is)."""
        if not isinstance(client, _BatchingGateway) and hasattr(client, "batch"):
            return _BatchingGateway(client, self)
        return client

    async def create(
        self, client: BatchCapable, entity: str, payload: Mapping[str, Any], requestid: str
    ) -> Written:
        create = _Create(client=client, entity=entity, payload=payload, requestid=requestid)
        waiting = self._waiting.setdefault(client.realm_id, [])
        waiting.append(create)
        if len(waiting) >= self._max:
            self._send(client.realm_id, delay=0.0)
        elif len(waiting) == 1:
            self._send(client.realm_id, delay=self._linger)
        return await create.answer

    def _send(self, realm_id: str, *, delay: float) -> None:
        task = asyncio.create_task(self._flush(realm_id, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, realm_id: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        waiting = self._waiting.get(realm_id) or []
        creates, self._waiting[realm_id] = waiting[: self._max], waiting[self._max :]
        if self._waiting[realm_id]:
            self._send(realm_id, delay=0.0)
        if not creates:
            return
        if len(creates) == 1 or not self._batch_allowed(realm_id):
            await asyncio.gather(*(_single(create) for create in creates))
            return
        await self._batch(creates)

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

    async def _batch(self, creates: list[_Create]) -> None:
        items = [
            BatchItem(bid=str(number), operation="create", entity=c.entity, payload=c.payload)
            for number, c in enumerate(creates, start=1)
        ]
        try:
            outcomes = await creates[0].client.batch(
                items, requestid=batch_request_id([c.requestid for c in creates])
            )
        except BaseException as exc:
            for create in creates:
                _fail(create, _as_uncertain(exc))
            if not isinstance(exc, Exception):
                raise
            return
        self.batches_sent += 1
        for item, create in zip(items, creates, strict=True):
            outcome = outcomes.get(item.bid)
            if isinstance(outcome, errors.QboError):
                _fail(create, outcome)
            elif outcome is None or isinstance(outcome, list):
                _fail(
                    create,
                    errors.UncertainOutcome(
                        f"QuickBooks answered the batch without item {item.bid}",
                        detail=f"{create.entity} create, requestid {create.requestid}",
                    ),
                )
            elif not create.answer.done():
                create.answer.set_result(outcome)


async def _single(create: _Create) -> None:
    try:
        written = await create.client.create(
            create.entity, create.payload, requestid=create.requestid
        )
    except BaseException as exc:
        _fail(create, exc)
        if not isinstance(exc, Exception):
            raise
        return
    if not create.answer.done():
        create.answer.set_result(written)


def _fail(create: _Create, exc: BaseException) -> None:
    if not create.answer.done():
        create.answer.set_exception(exc)


def _as_uncertain(exc: BaseException) -> BaseException:
    """A failure of the whole batch, for each of its items: a QboError keeps its class (a
    transient failure of the batch is one of each create; a refusal of the request refused
    them all); anything else may have happened after QBO saved the items."""
    if isinstance(exc, errors.QboError):
        return exc
    return errors.UncertainOutcome(f"the batch request failed: {type(exc).__name__}: {exc}")


class _BatchingGateway:
    """A client whose `create` goes through the coalescer; everything else is the client's."""

    def __init__(self, client: Any, coalescer: CreateCoalescer) -> None:
        self._client = client
        self._coalescer = coalescer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def create(self, entity: str, payload: Mapping[str, Any], *, requestid: str) -> Written:
        return await self._coalescer.create(self._client, entity, payload, requestid)
