"""R18 batch creates: the creates of bulk jobs of one realm travel as items of QBO batch
requests (at most 30), and each create gets its own outcome back, as from a single create:
the object QBO made, its own Fault classified by the errors catalogue, or an uncertain outcome
when the whole batch failed. Against the emulator, through the real client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from rentsync.qbo import errors
from rentsync.qbo.requestid import request_id
from rentsync.settings import Settings
from rentsync.sync.batching import BatchCoalescer, batch_request_id
from tests.qbo_fixtures import qbo_harness


def _customer(company_id: int, name: str, number: int) -> dict[str, Any]:
    return {
        "entity": "Customer",
        "payload": {"DisplayName": name},
        "requestid": request_id(company_id, f"customer:{number}", 1, "create"),
    }


async def test_r18_creates_go_in_batches_of_30_each_with_its_own_outcome(
    settings: Settings,
) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        client = await h.services.qbo.client_for(h.company_id)
        existing = await client.create(
            "Customer",
            {"DisplayName": "Already There"},
            requestid=request_id(h.company_id, "customer:existing", 1, "create"),
        )
        coalescer = BatchCoalescer(linger_seconds=0.2)
        gateway = coalescer.gateway(client)
        creates = [_customer(h.company_id, f"Batch customer {n}", n) for n in range(35)]
        creates.append(_customer(h.company_id, "Already There", 99))
        results = await asyncio.gather(
            *(gateway.create(c["entity"], c["payload"], requestid=c["requestid"]) for c in creates),
            return_exceptions=True,
        )
        refused = results[-1]
        assert isinstance(refused, errors.DuplicateName), refused
        assert refused.code == "6240"
        made = results[:-1]
        assert all(not isinstance(r, BaseException) for r in made), made
        names = [r.data["DisplayName"] for r in made]  # type: ignore[union-attr]
        assert names == [f"Batch customer {n}" for n in range(35)], "each its own object"
        assert len({r.id for r in made}) == 35  # type: ignore[union-attr]
        assert existing.id not in {r.id for r in made}  # type: ignore[union-attr]
        assert coalescer.batches_sent == 2  # 30 items, then 6
        log = await h.services.qbo_log.page(h.company_id, limit=100)
        batches = [entry for entry in log if "/batch" in entry.path]
        assert len(batches) == 2
        assert all(entry.requestid and len(entry.requestid) <= 36 for entry in batches)
        singles = [entry for entry in log if "/customer" in entry.path]
        assert len(singles) == 1, "only the create made before the coalescer"


async def test_r18_a_lone_create_goes_as_a_single_create(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        client = await h.services.qbo.client_for(h.company_id)
        coalescer = BatchCoalescer(linger_seconds=0.01)
        one = _customer(h.company_id, "Alone", 1)
        made = await coalescer.gateway(client).create(
            one["entity"], one["payload"], requestid=one["requestid"]
        )
        assert made.data["DisplayName"] == "Alone"
        assert coalescer.batches_sent == 0
        log = await h.services.qbo_log.page(h.company_id, limit=10)
        assert [entry.requestid for entry in log if "/customer" in entry.path] == [one["requestid"]]


async def test_r18_a_batch_whose_answer_is_lost_is_uncertain_for_every_item(
    settings: Settings,
) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        await h.admin("PUT", f"/admin/companies/{h.realm}/faults", {"next": ["drop"]})
        client = await h.services.qbo.client_for(h.company_id)
        coalescer = BatchCoalescer(linger_seconds=0.2)
        gateway = coalescer.gateway(client)
        creates = [_customer(h.company_id, f"Lost {n}", n) for n in range(3)]
        results = await asyncio.gather(
            *(gateway.create(c["entity"], c["payload"], requestid=c["requestid"]) for c in creates),
            return_exceptions=True,
        )
        for result in results:
            assert isinstance(result, errors.QboError), result
            assert result.outcome_uncertain, "the writer must look before creating again"


def test_r18_batch_requestid_is_stable_and_fits_qbo_limit() -> None:
    ids = [f"id-{n}" for n in range(30)]
    assert batch_request_id(ids) == batch_request_id(list(reversed(ids)))
    assert batch_request_id(ids) != batch_request_id(ids[:-1])
    assert len(batch_request_id(ids)) <= 36


async def test_r18_past_40_batches_a_minute_creates_go_singly(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        client = await h.services.qbo.client_for(h.company_id)
        coalescer = BatchCoalescer(linger_seconds=0.1, batches_per_minute=1)
        gateway = coalescer.gateway(client)
        for round_number in range(2):
            creates = [
                _customer(h.company_id, f"Round {round_number} customer {n}", 10 * round_number + n)
                for n in range(3)
            ]
            results = await asyncio.gather(
                *(
                    gateway.create(c["entity"], c["payload"], requestid=c["requestid"])
                    for c in creates
                )
            )
            assert len({r.id for r in results}) == 3
        assert coalescer.batches_sent == 1, "the second round went as single creates"
        log = await h.services.qbo_log.page(h.company_id, limit=50)
        assert sum(1 for entry in log if "/customer" in entry.path) == 3


async def test_r18_a_full_batch_voids_its_linger_timer_so_the_next_batch_fills(
    settings: Settings,
) -> None:
    """30 creates go at once as a full batch; the timer their first one started must not send
    the next creates early: 10 arriving 1 s later and 20 more 1.5 s after that make one batch
    of 30 (before: the stale timer sent the 10 alone at 2 s, then the 20)."""
    async with qbo_harness(settings) as h:
        await h.connect()
        client = await h.services.qbo.client_for(h.company_id)
        coalescer = BatchCoalescer(linger_seconds=2.0)
        gateway = coalescer.gateway(client)
        creates = [_customer(h.company_id, f"Linger customer {n}", n) for n in range(60)]

        async def send(group: list[dict[str, Any]], after: float) -> list[Any]:
            await asyncio.sleep(after)
            return await asyncio.gather(
                *(
                    gateway.create(call["entity"], call["payload"], requestid=call["requestid"])
                    for call in group
                )
            )

        groups = await asyncio.gather(
            send(creates[:30], 0.0), send(creates[30:40], 1.0), send(creates[40:], 2.5)
        )
        made = [written for group in groups for written in group]
        assert len({written.id for written in made}) == 60
        assert coalescer.batches_sent == 2, "the stale timer split the second batch"


async def _create_customers(
    gateway: Any, company_id: int, prefix: str, numbers: range
) -> list[Any]:
    creates = [_customer(company_id, f"{prefix} {n}", n) for n in numbers]
    return list(
        await asyncio.gather(
            *(gateway.create(c["entity"], c["payload"], requestid=c["requestid"]) for c in creates)
        )
    )


async def test_r18_past_the_minutes_batches_creates_go_singly_without_the_batch_linger(
    settings: Settings,
) -> None:
    """Once the minute's batches are spent there is no batch to fill: the creates go singly
    beside the batches at once, not after the bulk linger (which held each bulk job, and its
    slot of the bulk lane, for 1.5 s: the lane then sent about 310 singles a minute of 400)."""
    async with qbo_harness(settings) as h:
        await h.connect()
        client = await h.services.qbo.client_for(h.company_id)
        coalescer = BatchCoalescer(linger_seconds=600, max_items=2, batches_per_minute=1)
        gateway = coalescer.gateway(client)

        def create_all(first: int, count: int) -> Awaitable[list[Any]]:
            return _create_customers(
                gateway, h.company_id, "Unlingered", range(first, first + count)
            )

        full = await asyncio.wait_for(create_all(0, 2), timeout=60)  # a full batch goes at once
        singles = await asyncio.wait_for(create_all(2, 3), timeout=60)  # not after 600 s
        assert len({r.id for r in [*full, *singles]}) == 5
        assert coalescer.batches_sent == 1
        log = await h.services.qbo_log.page(h.company_id, limit=50)
        assert sum(1 for entry in log if "/customer" in entry.path) == 3


async def test_r18_past_half_the_minutes_batches_creates_also_go_singly_beside_them(
    settings: Settings,
) -> None:
    """A long run is held to 40 x 30 a minute by batches alone: once half the window's batches
    are spent, up to `singles_beside_batches` creates at a time go singly at once beside them,
    the rest still in batches. A short run (the first half) sends every create in batches."""
    async with qbo_harness(settings) as h:
        await h.connect()
        client = await h.services.qbo.client_for(h.company_id)
        coalescer = BatchCoalescer(
            linger_seconds=0.3, max_items=3, batches_per_minute=4, singles_beside_batches=2
        )
        gateway = coalescer.gateway(client)

        def create_all(first: int, count: int) -> Awaitable[list[Any]]:
            return _create_customers(gateway, h.company_id, "Beside", range(first, first + count))

        made = await create_all(0, 6)  # two full batches: half the window's 4
        assert coalescer.batches_sent == 2
        made += await create_all(6, 5)  # 2 singly at once, 3 in a batch
        assert len({written.id for written in made}) == 11
        assert coalescer.batches_sent == 3
        log = await h.services.qbo_log.page(h.company_id, limit=50)
        assert sum(1 for entry in log if "/customer" in entry.path) == 2


class _Gated:
    """The client, its single creates held at `gate` (batches go through), each noted."""

    def __init__(self, client: Any, gate: asyncio.Event) -> None:
        self._client = client
        self._gate = gate
        self.realm_id = client.realm_id
        self.singles: list[str] = []
        self.batches: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def create(self, entity: str, payload: Any, *, requestid: str) -> Any:
        self.singles.append(payload["DisplayName"])
        await self._gate.wait()
        return await self._client.create(entity, payload, requestid=requestid)

    async def batch(self, items: list[Any], *, requestid: str | None = None) -> Any:
        self.batches.append([item.payload["DisplayName"] for item in items])
        return await self._client.batch(items, requestid=requestid)


async def _until(condition: Callable[[], bool]) -> None:
    """Wait until `condition` holds (a hang guard, not a timing assertion)."""
    async with asyncio.timeout(60):
        while not condition():
            await asyncio.sleep(0.01)


async def test_r18_past_the_minutes_batches_calls_wait_for_the_next_batch_and_fill_it(
    settings: Settings,
) -> None:
    """Once the window's batches are spent, `singles_beside_batches` calls at a time go singly
    (the next as soon as one is answered) and the others wait for the next batch the window
    frees, which goes full at once. Before, every call went singly, all of them waiting in the
    limiter, and the batch the window freed next carried only the calls made since."""
    async with qbo_harness(settings) as h:
        await h.connect()
        client = await h.services.qbo.client_for(h.company_id)
        now = [0.0]
        gated = _Gated(client, asyncio.Event())
        coalescer = BatchCoalescer(
            linger_seconds=0.05,
            max_items=3,
            batches_per_minute=1,
            singles_beside_batches=1,
            clock=lambda: now[0],
        )
        gateway = coalescer.gateway(gated)  # type: ignore[arg-type]
        made = await _create_customers(gateway, h.company_id, "Window", range(3))
        assert gated.batches == [[f"Window {n}" for n in range(3)]], "the window's one batch"
        rest = asyncio.ensure_future(
            _create_customers(gateway, h.company_id, "Window", range(3, 8))
        )
        await _until(lambda: len(gated.singles) == 1)  # held at the gate
        await asyncio.sleep(0.2)  # several lingers: nothing else goes while no batch is left
        assert (len(gated.singles), len(gated.batches)) == (1, 1)
        now[0] += 62  # the window frees a batch: three of the four waiting go in it, at once
        await _until(lambda: len(gated.batches) == 2)
        assert gated.batches[1] == [f"Window {n}" for n in (4, 5, 6)]
        gated._gate.set()  # the single is answered: the last waiting call goes singly
        made += await rest
        assert gated.singles == ["Window 3", "Window 7"]
        assert len({written.id for written in made}) == 8
        assert coalescer.batches_sent == 2
