"""R18: the bulk batcher's own tasks (a batch's linger, the merged look-ups' linger) may end
abnormally; the calls waiting on them must not wait forever, nor hold up the realm's later calls
(a realm's waiting list left behind starts no new linger)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from rentsync.qbo import errors
from rentsync.qbo.client import BatchItem, BatchOutcome, QueryPage, Result
from rentsync.sync import batching
from rentsync.sync.batching import BatchCoalescer
from rentsync.sync.ports import Written


class _Client:
    """A QuickBooks client answering every create and query at once."""

    realm_id = "realm-tasks"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def create(self, entity: str, payload: Mapping[str, Any], *, requestid: str) -> Written:
        self.sent.append(requestid)
        made = {"Id": str(len(self.sent)), "SyncToken": "0", **payload}
        return Result(entity=entity, data=made, intuit_tid=None)

    async def query(self, statement: str) -> QueryPage:
        self.sent.append(statement)
        return QueryPage(
            entities=[], start_position=1, max_results=1000, total_count=None, intuit_tid=None
        )

    async def batch(
        self, items: list[BatchItem], *, requestid: str | None = None
    ) -> Mapping[str, BatchOutcome]:
        raise AssertionError("no batch expected: each call here goes alone")


async def _linger_task_is_cancelled(coalescer: BatchCoalescer) -> None:
    await asyncio.sleep(0.05)  # the call is waiting in its linger
    (task,) = coalescer._tasks
    task.cancel()


async def test_r18_a_batch_linger_that_ends_abnormally_fails_its_calls_and_goes_on() -> None:
    client = _Client()
    coalescer = BatchCoalescer(linger_seconds=0.5, lookup_linger_seconds=0.5)
    gateway = coalescer.gateway(client)  # type: ignore[arg-type]

    waiting = asyncio.ensure_future(gateway.create("Customer", {"DisplayName": "A"}, requestid="a"))
    await _linger_task_is_cancelled(coalescer)
    with pytest.raises(errors.Unreachable, match="nothing was sent"):
        await asyncio.wait_for(waiting, 2.0)  # before: waited forever
    assert client.sent == []
    # The realm's next call lingers and goes as usual (before: it joined the orphaned list).
    made = await asyncio.wait_for(
        gateway.create("Customer", {"DisplayName": "B"}, requestid="b"), 5.0
    )
    assert made.id == "1"
    assert client.sent == ["b"]


async def test_r18_a_look_up_linger_that_ends_abnormally_fails_its_calls_and_goes_on() -> None:
    client = _Client()
    coalescer = BatchCoalescer(linger_seconds=0.5, lookup_linger_seconds=0.5)
    gateway = coalescer.gateway(client)  # type: ignore[arg-type]

    waiting = asyncio.ensure_future(gateway.find_by("Customer", "DisplayName", "A"))
    await _linger_task_is_cancelled(coalescer)
    with pytest.raises(errors.Unreachable, match="nothing was sent"):
        await asyncio.wait_for(waiting, 2.0)
    assert client.sent == []
    rows = await asyncio.wait_for(gateway.find_by("Customer", "DisplayName", "B"), 5.0)
    assert rows == []
    assert len(client.sent) == 1 and "'B'" in client.sent[0]


async def test_r18_look_ups_whose_grouping_fails_are_failed_not_left_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An error inside the look-ups' linger task itself (here: grouping them), not a
    cancellation from outside: the same."""
    client = _Client()
    coalescer = BatchCoalescer(lookup_linger_seconds=0.05)
    gateway = coalescer.gateway(client)  # type: ignore[arg-type]
    grouped = batching._units

    def broken(calls: list[Any]) -> list[Any]:
        monkeypatch.setattr(batching, "_units", grouped)  # once
        raise RuntimeError("grouping failed")

    monkeypatch.setattr(batching, "_units", broken)
    with pytest.raises(errors.Unreachable, match="RuntimeError: grouping failed"):
        await asyncio.wait_for(gateway.find_by("Customer", "DisplayName", "A"), 2.0)
    rows = await asyncio.wait_for(gateway.find_by("Customer", "DisplayName", "B"), 2.0)
    assert rows == []
