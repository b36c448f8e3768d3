"""The limiter is QBO's rules (issue 13, reference §1), shared by every process through PostgreSQL:
a rolling minute (not a fixed one), 10 a second, 10 in flight, batches 40 a minute, background
work only in the spare budget, and a 429 blocks the realm for every process at once."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from psycopg_pool import AsyncConnectionPool

from rentsync.qbo import errors, http
from rentsync.qbo.client import ClientSettings, QboClient
from rentsync.qbo.limits import Limiter, LimitSettings
from rentsync.qbo.ports import HeldSlot, Ring, SlotAsk
from rentsync.settings import Settings
from rentsync.store.rate_limits import PgRealmBudget
from tests.chaos.processes import QBO_EMULATOR, Service, free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[AsyncConnectionPool]:
    async with AsyncConnectionPool(
        settings.database_url or "", min_size=1, max_size=4, kwargs={"autocommit": True}
    ) as opened:
        yield opened


async def _sql(pool: AsyncConnectionPool, query: str, *params: object) -> list[tuple[object, ...]]:
    async with pool.connection() as conn:
        cursor = await conn.execute(query, params)
        return await cursor.fetchall() if cursor.description else []


def _ask(realm: str, *rings: Ring, holder: str = "h", keep_free: int = 0) -> SlotAsk:
    return SlotAsk(
        realm_id=realm,
        holder=holder,
        lease_seconds=60,
        capacity=10,
        keep_free=keep_free,
        rings=rings,
    )


async def _take_and_finish(budget: PgRealmBudget, ask: SlotAsk) -> float:
    """Take a slot and give it back at once; 0, or the wait the budget asked for."""
    slot, wait = await budget.take(ask)
    if slot is not None:
        await budget.release([_held(ask, slot)])
        return 0.0
    return wait


def _held(ask: SlotAsk, slot: int) -> HeldSlot:
    return HeldSlot(ask.realm_id, slot, ask.holder)


async def test_i13_the_minute_is_rolling_exact_at_the_boundary(pool: AsyncConnectionPool) -> None:
    budget = PgRealmBudget(pool)
    ask = _ask("realm-roll", Ring("minute", 5, 60.0))
    for _ in range(5):
        assert await _take_and_finish(budget, ask) == 0.0
    wait = await _take_and_finish(budget, ask)
    assert 59.0 < wait <= 60.0  # the oldest of the last 5 leaves the window in about 60 s
    # Age the oldest send to just inside the window: still refused, with the rest of its wait.
    await _sql(
        pool,
        "UPDATE qbo_rate_sends SET arrives_by = clock_timestamp() - interval '59.8 seconds' "
        "WHERE realm_id = 'realm-roll' AND pos = 0",
    )
    wait = await _take_and_finish(budget, ask)
    assert 0.0 < wait <= 0.2
    # Just outside: exactly one more goes, and the next waits for the second-oldest.
    await _sql(
        pool,
        "UPDATE qbo_rate_sends SET arrives_by = clock_timestamp() - interval '60.01 seconds' "
        "WHERE realm_id = 'realm-roll' AND pos = 0",
    )
    assert await _take_and_finish(budget, ask) == 0.0
    assert 59.0 < await _take_and_finish(budget, ask) <= 60.0
    # A fixed window would have started afresh after a minute's edge; the rolling one did not:
    # never more than 5 stamps inside any 60 s.
    [(inside,)] = await _sql(
        pool,
        "SELECT count(*) FROM qbo_rate_sends WHERE realm_id = 'realm-roll' "
        "AND arrives_by > clock_timestamp() - interval '60 seconds'",
    )
    assert inside == 5


async def test_i13_ten_in_flight_then_every_ask_waits_for_a_release(
    pool: AsyncConnectionPool,
) -> None:
    budget = PgRealmBudget(pool)
    ask = _ask("realm-slots", Ring("minute", 500, 60.0))
    taken = [await budget.take(ask) for _ in range(10)]
    assert sorted(slot for slot, _ in taken) == list(range(10))  # type: ignore[type-var]
    assert await budget.take(ask) == (None, 0.0)  # every slot taken: poll
    # A finished slot is given back by the next take itself (no statement of its own).
    first = _held(ask, 0)
    slot, _ = await budget.take(dataclasses.replace(ask, release=(first,)))
    assert slot == 0


async def test_i13_batches_40_a_minute_and_singles_still_go(pool: AsyncConnectionPool) -> None:
    budget = PgRealmBudget(pool)
    settings = LimitSettings()
    batch = _ask("realm-batch", *settings.rings(batch=True, background=False))
    single = _ask("realm-batch", *settings.rings(batch=False, background=False))
    assert [r.size for r in batch.rings if r.kind == "batch"] == [40]  # min(40 per app, 120)
    age_the_second = (
        "UPDATE qbo_rate_sends SET arrives_by = arrives_by - interval '2 s' WHERE kind = 'second'"
    )
    for n in range(40):
        await _sql(pool, age_the_second)  # so that only the batch ring can bind
        assert await _take_and_finish(budget, batch) == 0.0, n
    await _sql(pool, age_the_second)
    wait = await _take_and_finish(budget, batch)
    assert 50.0 < wait <= 60.0
    assert await _take_and_finish(budget, single) == 0.0


async def test_i13_ten_a_second(pool: AsyncConnectionPool) -> None:
    budget = PgRealmBudget(pool)
    ask = _ask("realm-second", *LimitSettings().rings(batch=False, background=False))
    for _ in range(10):
        assert await _take_and_finish(budget, ask) == 0.0
    wait = await _take_and_finish(budget, ask)
    assert 0.5 < wait <= 1.0


async def test_i13_background_work_sends_its_minute_share_within_the_second(
    pool: AsyncConnectionPool,
) -> None:
    """A bulk sync may send 9 of the second's 10 (450 a minute, above its 440): the second is
    not what holds it below its share (it was 7 of 10, 350 a minute, while it kept the 3
    in-flight slots there too); the 10th stays for real-time work."""
    budget = PgRealmBudget(pool)
    settings = LimitSettings()
    background = _ask(
        "realm-bg-second", *settings.rings(batch=False, background=True), holder="bulk"
    )
    real_time = _ask("realm-bg-second", *settings.rings(batch=False, background=False))
    for _ in range(9):
        assert await _take_and_finish(budget, background) == 0.0
    assert await _take_and_finish(budget, background) > 0
    assert await _take_and_finish(budget, real_time) == 0.0


async def test_i13_background_work_leaves_slots_and_budget_to_real_time(
    pool: AsyncConnectionPool,
) -> None:
    budget = PgRealmBudget(pool)
    settings = LimitSettings(background_keep_free=3, per_second=1000)
    background = _ask(
        "realm-bg", *settings.rings(batch=False, background=True), holder="bulk", keep_free=3
    )
    real_time = _ask("realm-bg", *settings.rings(batch=False, background=False))
    held = [await budget.take(background) for _ in range(7)]
    assert all(slot is not None for slot, _ in held)
    assert await budget.take(background) == (None, 0.0)  # 3 slots stay free for real-time
    for _ in range(3):
        slot, _ = await budget.take(real_time)
        assert slot is not None

    # The rolling minute: background stops 60 requests short of the 500.
    await _sql(pool, "UPDATE qbo_inflight_slots SET holder = NULL WHERE realm_id = 'realm-bg'")
    minute = LimitSettings(per_minute=20, per_second=1000, background_headroom_per_minute=5)
    background = _ask("realm-bg2", *minute.rings(batch=False, background=True), keep_free=3)
    real_time = _ask("realm-bg2", *minute.rings(batch=False, background=False))
    sent = 0
    while await _take_and_finish(budget, background) == 0.0:
        sent += 1
    assert sent == 15
    for _ in range(5):
        assert await _take_and_finish(budget, real_time) == 0.0
    assert await _take_and_finish(budget, real_time) > 0


async def _time_passes(pool: AsyncConnectionPool, realm: str, seconds: float) -> None:
    """As if `seconds` had passed for the realm's windows and slots."""
    await _sql(
        pool,
        "UPDATE qbo_rate_sends SET arrives_by = arrives_by - make_interval(secs => %s) "
        "WHERE realm_id = %s",
        seconds,
        realm,
    )
    await _age_leases(pool, realm, seconds)


async def test_i13_a_request_counts_in_the_minute_until_its_answer_not_from_its_take(
    pool: AsyncConnectionPool,
) -> None:
    """QuickBooks counts a request when it arrives, anywhere between its take here and its
    answer (a lagging event loop sends it late). Three a minute: c is taken, then a minute
    passes before it is sent; d and e go meanwhile. Counted from its take (the old rule, even
    with its 2 s margin), c had left the window and f went too: c, d, e and f could all reach
    QuickBooks within one minute, a 429. Counted until its answer, f waits."""
    budget = PgRealmBudget(pool)
    realm = "realm-late-send"
    minute = Ring("minute", 3, 60.0)
    asks = {
        name: dataclasses.replace(_ask(realm, minute, holder=name), lease_seconds=130.0)
        for name in "abcdef"
    }
    for name in "ab":
        assert await _take_and_finish(budget, asks[name]) == 0.0
    c_slot, _ = await budget.take(asks["c"])
    assert c_slot is not None
    await _time_passes(pool, realm, 62.5)  # a and b left the window; c is not answered yet
    for name in "de":
        assert await _take_and_finish(budget, asks[name]) == 0.0
    slot, wait = await budget.take(asks["f"])
    assert slot is None
    assert 59.0 < wait <= 60.0
    # Once d and e have left the window, c alone (not answered) lets two more go, not three.
    await _time_passes(pool, realm, 60.01)
    for name in "fa":
        assert await _take_and_finish(budget, asks[name]) == 0.0
    assert (await budget.take(asks["b"]))[0] is None
    # c answered now: it counts a minute more, then leaves (with f and a).
    await budget.release([_held(asks["c"], c_slot)])
    await _time_passes(pool, realm, 60.01)
    assert await _take_and_finish(budget, asks["b"]) == 0.0


async def test_i13_a_request_given_up_on_stops_counting_but_keeps_its_slot(
    pool: AsyncConnectionPool,
) -> None:
    """No answer in time: the request may still run at QuickBooks, so its in-flight slot stays
    taken to its lease, but it can no longer arrive (its connection is closed): it counts in the
    windows from then as an answered one does, and blocks no take after that."""
    budget = PgRealmBudget(pool)
    realm = "realm-given-up"
    ask = _ask(realm, Ring("minute", 2, 60.0), holder="given-up")
    slot, _ = await budget.take(ask)
    assert slot is not None
    await _time_passes(pool, realm, 30.0)
    await budget.release([HeldSlot(realm, slot, ask.holder, keep_slot=True)])
    [(still_held,)] = await _sql(
        pool,
        "SELECT count(*) FROM qbo_inflight_slots WHERE realm_id = %s AND holder IS NOT NULL",
        realm,
    )
    assert still_held == 1
    other = dataclasses.replace(ask, holder="other")
    assert await _take_and_finish(budget, other) == 0.0
    _, wait = await budget.take(dataclasses.replace(ask, holder="third"))
    assert 59.0 < wait <= 60.0  # the given-up one counts until a minute after it was given up
    await _time_passes(pool, realm, 60.01)
    assert await _take_and_finish(budget, dataclasses.replace(ask, holder="third")) == 0.0


async def test_b9_a_quiet_realms_reserve_goes_to_bulk_until_a_real_time_request_asks(
    pool: AsyncConnectionPool,
) -> None:
    """A company with no real-time traffic for a minute: its bulk sync may use the minute's
    real-time reserve too (20 of 20 here, not 15). The first real-time request takes it back:
    it waits only for the window's oldest request to leave (3 s here, where requests are 3 s
    apart; well under a second at 500 a minute), and bulk waits until it is 5 under the limit
    again."""
    budget = PgRealmBudget(pool)
    realm = "realm-lend"
    minute = Ring("minute", 20, 60.0, headroom=5)
    bulk = _ask(realm, minute, holder="bulk")
    bulk = dataclasses.replace(bulk, background=True, lend_after_seconds=60.0)
    real_time = _ask(realm, dataclasses.replace(minute, headroom=0), holder="real-time")
    for _ in range(20):
        assert await _take_and_finish(budget, bulk) == 0.0
        await _time_passes(pool, realm, 2.9)
    assert await _take_and_finish(budget, bulk) > 0  # the whole minute's 20 are spent
    real_time_wait = await _take_and_finish(budget, real_time)
    assert 0.0 < real_time_wait < 3.0  # the oldest leaves
    assert await _take_and_finish(budget, bulk) > 14.0  # the reserve is back: 6 must leave
    await _time_passes(pool, realm, real_time_wait + 0.01)
    assert await _take_and_finish(budget, bulk) > 0
    assert await _take_and_finish(budget, real_time) == 0.0
    # A minute after the last real-time request, the reserve is lent again.
    await _time_passes(pool, realm, 120.0)
    await _sql(
        pool,
        "UPDATE qbo_realm_limits SET real_time_at = real_time_at - interval '120 s' "
        "WHERE realm_id = %s",
        realm,
    )
    for _ in range(20):
        assert await _take_and_finish(budget, bulk) == 0.0


async def test_i13_a_429_blocks_the_realm_for_every_process(pool: AsyncConnectionPool) -> None:
    one = Limiter(budget=PgRealmBudget(pool))
    other = Limiter(budget=PgRealmBudget(pool))  # another process: nothing shared but the DB
    await one.block("realm-429", 0.6)
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with other.slot("realm-429"):
        waited = loop.time() - began
    assert 0.4 < waited < 5
    # A shorter block later does not shorten a longer one.
    await one.block("realm-429", 30)
    await other.block("realm-429", 0.1)
    _, wait = await PgRealmBudget(pool).take(_ask("realm-429", Ring("minute", 500, 60.0)))
    assert 25 < wait <= 30
    await one.aclose()
    await other.aclose()


async def test_i13_no_429_from_a_600_request_burst_across_two_processes(
    settings: Settings, tmp_path: Path
) -> None:
    """QBO's real limits in the emulator (a separate process), two rentsync-like processes
    sharing the realm's budget through PostgreSQL, 300 requests each at once: every request is
    answered 200, none 429 (10 in flight and the rolling 500 a minute both bind)."""
    port = free_port()
    emulator = Service(
        "qbo-emulator",
        [QBO_EMULATOR, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={"PATH": "/usr/bin:/bin"},
        log_dir=tmp_path,
    )
    emulator.start()
    base = f"http://127.0.0.1:{port}"
    senders: list[subprocess.Popen[str]] = []
    try:
        async with httpx2.AsyncClient(base_url=base, timeout=30) as admin:
            for _ in range(100):
                try:
                    await admin.get("/admin/apps")
                    break
                except httpx2.TransportError:
                    await asyncio.sleep(0.1)
            app = (await admin.post("/admin/apps", json={"redirect_uris": ["http://x/cb"]})).json()
            realm = (await admin.post("/admin/companies", json={})).json()["realmId"]
            tokens = await admin.post(
                f"/admin/companies/{realm}/tokens", json={"client_id": app["client_id"]}
            )
            await admin.put(
                f"/admin/companies/{realm}/faults",
                json={"latency": {"distribution": "fixed", "ms": 30}},
            )
            for _ in range(2):
                sender = subprocess.Popen(  # our interpreter, fixed arguments
                    [
                        sys.executable,
                        "-m",
                        "tests.qbo.limited_sender",
                        settings.database_url or "",
                        base,
                        realm,
                        tokens.json()["access_token"],
                        "300",
                    ],
                    cwd=REPO,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                senders.append(sender)
            for sender in senders:
                assert sender.stdout is not None and sender.stdout.readline().strip() == "ready"
            for sender in senders:
                assert sender.stdin is not None
                sender.stdin.write("go\n")
                sender.stdin.flush()
            outputs = []
            for sender in senders:
                out, _ = await asyncio.to_thread(sender.communicate, timeout=180)
                assert sender.returncode == 0, out
                outputs.append(json.loads(out.strip().splitlines()[-1]))
            limits = (await admin.get(f"/admin/companies/{realm}/limits")).json()
        assert (outputs, limits["refused"]) == ([{"200": 300}, {"200": 300}], {})
    finally:
        for sender in senders:
            if sender.poll() is None:
                sender.kill()
        emulator.stop()


# --- the in-flight slot's lease covers the longest hold -----------------------------------------

QBO_LONGEST_REQUEST_SECONDS = 120.0
"""QuickBooks ends a request after 120 s (reference §1): the longest a request is in flight."""


async def _age_leases(pool: AsyncConnectionPool, realm: str, seconds: float) -> None:
    """As if `seconds` had passed since the realm's slots were taken."""
    await _sql(
        pool,
        "UPDATE qbo_inflight_slots SET leased_until = leased_until - make_interval(secs => %s) "
        "WHERE realm_id = %s AND holder IS NOT NULL",
        seconds,
        realm,
    )


async def test_i13_a_slot_is_not_counted_free_while_its_request_may_still_be_in_flight(
    pool: AsyncConnectionPool,
) -> None:
    """Ten requests in flight for as long as QuickBooks lets one run (the client configured
    with QBO's own 120 s): an eleventh is not let go meanwhile. (With a 60 s lease the slots
    were counted free halfway through and an eleventh went in flight.)"""
    limiter = Limiter(budget=PgRealmBudget(pool))
    async with contextlib.AsyncExitStack() as in_flight:
        for _ in range(10):
            await in_flight.enter_async_context(limiter.slot("realm-long"))
        await _age_leases(pool, "realm-long", QBO_LONGEST_REQUEST_SECONDS - 0.5)
        eleventh = _ask("realm-long", Ring("minute", 500, 60.0), holder="eleventh")
        assert await PgRealmBudget(pool).take(eleventh) == (None, 0.0)
    await limiter.aclose()
    # Given back when the requests end: the next ask gets one at once.
    slot, _ = await PgRealmBudget(pool).take(eleventh)
    assert slot is not None


class _Slow(httpx2.AsyncBaseTransport):
    """QuickBooks answering after `seconds` (a slow request, or one that will time out)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(self.seconds)
        return httpx2.Response(200, json={"Customer": {"Id": "1", "SyncToken": "0"}, "time": "t"})


class _Tokens:
    async def current(self) -> str:
        return "access-token-0123456789"

    async def refresh(self, rejected: str) -> str:
        return rejected


def _client(pool: AsyncConnectionPool, answer_after: float, timeout: float) -> QboClient:
    return QboClient(
        http_client=http.make_client(transport=_Slow(answer_after), timeout=timeout),
        api_base_url="https://qbo.test",
        company_id=1,
        realm_id="realm-deadline",
        tokens=_Tokens(),
        limiter=Limiter(budget=PgRealmBudget(pool)),
        settings=ClientSettings(timeout_seconds=timeout),
    )


async def test_i13_a_request_without_an_answer_in_time_keeps_its_slot_until_the_lease_ends(
    pool: AsyncConnectionPool,
) -> None:
    """The client's timeout is a deadline for the whole exchange (httpx's per-phase timeouts add
    up past it), and a request that got no answer by then may still run at QuickBooks: its slot
    stays taken for the lease (which covers QBO's 120 s), not given back at once."""
    slow = _client(pool, answer_after=3.0, timeout=0.3)
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(errors.NoAnswerInTime):
        await slow.create("Customer", {"DisplayName": "A"}, requestid="r-1")
    assert loop.time() - began < 2.0  # the deadline, not the answer 3 s later
    await slow._limiter.aclose()  # everything it would give back, now
    rows = await _sql(
        pool,
        "SELECT extract(epoch FROM leased_until - clock_timestamp()) FROM qbo_inflight_slots "
        "WHERE realm_id = 'realm-deadline' AND holder IS NOT NULL",
    )
    assert len(rows) == 1
    assert float(rows[0][0]) > QBO_LONGEST_REQUEST_SECONDS - 5  # type: ignore[arg-type]

    # A request answered in time gives its slot back.
    await _sql(
        pool, "UPDATE qbo_inflight_slots SET holder = NULL WHERE realm_id = 'realm-deadline'"
    )
    quick = _client(pool, answer_after=0.0, timeout=5.0)
    created = await quick.create("Customer", {"DisplayName": "B"}, requestid="r-2")
    assert created.id == "1"
    await quick._limiter.aclose()
    assert (
        await _sql(
            pool,
            "SELECT slot FROM qbo_inflight_slots WHERE realm_id = 'realm-deadline' "
            "AND holder IS NOT NULL",
        )
        == []
    )
