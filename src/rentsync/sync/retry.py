"""When a failed sync runs again: one pure table per job type (R15), decided from the error.

    locked      (5010 stale, object in use)       again in ~10 s; does not use up attempts;
                                                  gives up after `locked_for` (then failed)
    transient   (unreachable, uncertain outcome,  backoff with jitter (or the server's hint);
                 5xx, 429, company unavailable)   does not use up attempts; gives up after
                                                  `transient_for`
    permanent   (needs a user's fix, our payload  uses up one of the job type's attempts;
                 rejected, read-back mismatch)    again shortly while attempts remain, then failed

A document marked failed waits for a fix and Resync (or an Update of the document).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from rentsync.qbo import errors


class Kind(enum.StrEnum):
    LOCKED = "locked"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


def kind_of(error: Exception) -> Kind:
    if isinstance(error, errors.Locked):
        return Kind.LOCKED
    if isinstance(error, errors.Unreachable | errors.UncertainOutcome | errors.Retryable):
        return Kind.TRANSIENT
    return Kind.PERMANENT


@dataclass(frozen=True, kw_only=True)
class RetryRule:
    max_attempts: int
    """Permanent failures a document may have before it is marked failed."""
    locked_delay: timedelta = timedelta(seconds=10)
    locked_for: timedelta = timedelta(minutes=15)
    transient_base: timedelta = timedelta(seconds=5)
    transient_cap: timedelta = timedelta(minutes=5)
    transient_for: timedelta = timedelta(hours=6)
    permanent_delay: timedelta = timedelta(seconds=5)


@dataclass(frozen=True)
class RetryIn:
    seconds: float
    counts: bool
    """Whether this failure used up one of the job type's attempts."""


@dataclass(frozen=True)
class GiveUp:
    counts: bool
    why: str


Decision = RetryIn | GiveUp


def decide(
    error: Exception,
    *,
    rule: RetryRule,
    attempts: int,
    failing_since: datetime,
    now: datetime,
    server_hint: float | None = None,
    jitter: random.Random | None = None,
) -> Decision:
    """`attempts` counts the permanent failures before this one; `failing_since` is when this
    run of failures began (now, for the first)."""
    kind = kind_of(error)
    failing_for = now - failing_since
    if kind is Kind.LOCKED:
        if failing_for >= rule.locked_for:
            return GiveUp(counts=False, why=f"still locked after {failing_for}")
        return RetryIn(rule.locked_delay.total_seconds(), counts=False)
    if kind is Kind.TRANSIENT:
        if failing_for >= rule.transient_for:
            return GiveUp(counts=False, why=f"QuickBooks unavailable for {failing_for}")
        if server_hint is not None:
            return RetryIn(server_hint, counts=False)
        return RetryIn(_backoff(rule, failing_for, jitter or random.Random()), counts=False)  # noqa: S311
    if attempts + 1 >= rule.max_attempts:
        return GiveUp(counts=True, why=f"{attempts + 1} attempts failed")
    return RetryIn(rule.permanent_delay.total_seconds(), counts=True)


def _backoff(rule: RetryRule, failing_for: timedelta, jitter: random.Random) -> float:
    """Doubles with the time already spent failing, capped, with full jitter on the upper half."""
    base = rule.transient_base.total_seconds()
    steps = max(0.0, failing_for.total_seconds() / base)
    delay = min(rule.transient_cap.total_seconds(), base * max(1.0, steps))
    return delay / 2 + jitter.uniform(0, delay / 2)
