"""R15: the retry table, one row per kind of failure (pure; the clock is an argument)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from rentsync.mapping.errors import MappingError, MappingProblem
from rentsync.qbo import errors
from rentsync.sync import retry
from rentsync.sync.failures import VerificationFailed

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
INVOICE_RULE = retry.RetryRule(max_attempts=2)


def decide(
    error: Exception,
    *,
    attempts: int = 0,
    failing_for: timedelta = timedelta(0),
    hint: float | None = None,
) -> retry.Decision:
    return retry.decide(
        error,
        rule=INVOICE_RULE,
        attempts=attempts,
        failing_since=NOW - failing_for,
        now=NOW,
        server_hint=hint,
        jitter=random.Random(7),
    )


def test_r15_locked_object_is_retried_after_about_ten_seconds_without_using_up_attempts() -> None:
    decision = decide(errors.Locked("Stale Object Error", code="5010"), attempts=1)
    assert decision == retry.RetryIn(10.0, counts=False)


def test_r15_locked_gives_up_after_a_bounded_time() -> None:
    decision = decide(errors.Locked("in use", code="6000"), failing_for=timedelta(minutes=16))
    assert isinstance(decision, retry.GiveUp)
    assert decision.counts is False


@pytest.mark.parametrize(
    "error",
    [
        errors.Unreachable("connect failed"),
        errors.UncertainOutcome("read timeout"),
        errors.ServerError("503", code="10000", http_status=503),
        errors.Throttled("ThrottleExceeded", code="3001", http_status=429),
    ],
    ids=["unreachable", "uncertain", "server-error", "throttled"],
)
def test_r15_transient_failures_back_off_without_using_up_attempts(error: Exception) -> None:
    first = decide(error)
    later = decide(error, failing_for=timedelta(minutes=2))
    assert isinstance(first, retry.RetryIn) and isinstance(later, retry.RetryIn)
    assert not first.counts and not later.counts
    assert 2.5 <= first.seconds <= 5.0
    assert later.seconds > first.seconds


def test_r15_throttled_obeys_the_servers_hint() -> None:
    assert decide(errors.Throttled("slow down", code="3001"), hint=60.0) == retry.RetryIn(
        60.0, counts=False
    )


def test_r15_transient_gives_up_after_hours() -> None:
    assert isinstance(
        decide(errors.Unreachable("down"), failing_for=timedelta(hours=7)), retry.GiveUp
    )


@pytest.mark.parametrize(
    "error",
    [
        errors.DuplicateDocNumber("Duplicate Document Number Error", code="6140"),
        errors.BeforeInventoryStart("InventoryTxnDatedBeforeItemStartDate", code="6270"),
        errors.PayloadRejected("Required param missing", code="2020"),
        MappingError(
            MappingProblem.ACCOUNT_NOT_MAPPED, "no income account", field="income", remedy="map it"
        ),
        VerificationFailed(
            "invoice_tax_mismatch", "tax differs", detail="9.60 vs 9.00", remedy="sync tax"
        ),
    ],
    ids=["6140", "6270", "2020", "mapping", "verification"],
)
def test_r15_other_failures_use_the_job_types_attempts_then_fail(error: Exception) -> None:
    first = decide(error, attempts=0)
    assert isinstance(first, retry.RetryIn) and first.counts
    last = decide(error, attempts=1)
    assert isinstance(last, retry.GiveUp) and last.counts
