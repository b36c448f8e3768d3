"""The emulator's limits are QBO's (issue 13, reference §1): rolling windows, per realm and app."""

from __future__ import annotations

import asyncio

from tests.emulator.conftest import Qbo

from qbo_emulator.limits import Limiter, LimitsConfig


def _send(limiter: Limiter, at: float, n: int = 1, *, app: str = "a", batch: bool = False) -> int:
    """Send `n` requests at `at` that finish at once; how many were admitted."""
    admitted = 0
    for _ in range(n):
        if limiter.admit(at, batch=batch, app=app):
            limiter.release(app)
            admitted += 1
    return admitted


def test_i13_the_minute_is_rolling_not_fixed() -> None:
    limiter = Limiter(LimitsConfig(max_in_flight=1000))
    assert _send(limiter, 0.0, 250) == 250
    assert _send(limiter, 30.0, 250) == 250
    # A fixed window starting at 60 s would admit 500 more here; QBO counts the last 60 s.
    assert _send(limiter, 59.999, 1) == 0
    assert _send(limiter, 60.0, 300) == 250  # exactly the 250 sent at 0 s have left the window
    assert _send(limiter, 89.999, 1) == 0
    assert _send(limiter, 90.0, 1) == 1


def test_i13_refused_requests_do_not_count() -> None:
    limiter = Limiter(LimitsConfig(per_minute=5))
    assert _send(limiter, 0.0, 5) == 5
    assert _send(limiter, 10.0, 100) == 0
    assert _send(limiter, 60.0, 5) == 5


def test_i13_ten_in_flight_per_realm_and_app_and_a_rolling_second_when_set() -> None:
    assert LimitsConfig().per_second == 0  # off by default (choices.py)
    limiter = Limiter(LimitsConfig(per_second=10))
    assert _send(limiter, 0.0, 11) == 10
    assert _send(limiter, 0.5, 1, app="b") == 1  # another app has its own second
    assert _send(limiter, 0.999, 1) == 0
    assert _send(limiter, 1.0, 10) == 10

    held = [limiter.admit(5.0 + i * 0.2, batch=False, app="a") for i in range(10)]
    assert all(held)
    assert not limiter.admit(8.0, batch=False, app="a")  # 10 in flight for app a
    assert limiter.admit(8.0, batch=False, app="b")  # app b's own 10
    limiter.release("a")
    assert limiter.admit(8.1, batch=False, app="a")


def test_i13_batches_40_a_minute_per_app_and_120_per_realm() -> None:
    limiter = Limiter(LimitsConfig(max_in_flight=1000))
    assert _send(limiter, 0.0, 41, app="a", batch=True) == 40
    assert _send(limiter, 1.0, 40, app="b", batch=True) == 40
    assert _send(limiter, 2.0, 40, app="c", batch=True) == 40
    assert _send(limiter, 3.0, 1, app="d", batch=True) == 0  # the realm's 120
    assert _send(limiter, 3.0, 1, app="d") == 1  # single requests still go
    assert _send(limiter, 60.0, 1, app="d", batch=True) == 1  # app a's 40 left the window
    # Batches count toward the 500 a minute too: in the minute before 61.5 s, app c's 40, app d's
    # single and its batch.
    assert _send(limiter, 61.5, 500, app="e") == 500 - 42


async def test_i13_over_the_limit_answers_qbo_s_429_xml_without_retry_after(qbo: Qbo) -> None:
    await qbo.client.put(
        f"/admin/companies/{qbo.realm}/limits", json={"enabled": True, "per_second": 2}
    )
    answers = await asyncio.gather(*(qbo.client.get(qbo.url("preferences")) for _ in range(3)))
    throttled = [a for a in answers if a.status_code == 429]
    assert len(throttled) == 1
    assert throttled[0].headers["content-type"].startswith("application/xml")
    assert "retry-after" not in throttled[0].headers
    assert b'<Error code="3001">' in throttled[0].content
    assert b"statusCode=429" in throttled[0].content
