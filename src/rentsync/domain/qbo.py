"""QuickBooks connection values shared by `rentsync.qbo` (which uses them) and `rentsync.store`
(which persists them): plain frozen data, no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


class StoredStatus(enum.StrEnum):
    """The row's status; values equal the strings stored in `qbo_connections.status`."""

    CONNECTED = "connected"
    LOST = "lost"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, kw_only=True)
class TokenSet:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime | None = None
    refresh_hard_expires_at: datetime | None = None
    """From `x_refresh_token_hard_expires_in`, when the token endpoint returns it."""

    def __repr__(self) -> str:  # never print a token, even in a debugger or a traceback
        return (
            f"TokenSet(access_expires_at={self.access_expires_at!r}, "
            f"refresh_expires_at={self.refresh_expires_at!r})"
        )


# QuickBooks' published limits per company (realm), reference §1 and §6: the limiter enforces
# them, the batch path fills batches to them and the bulk preview estimates with them.
REQUESTS_PER_MINUTE = 500
"""Requests a minute per realm, batches included."""
IN_FLIGHT = 10
"""Requests in flight per realm and app (and 10 a second)."""
BATCHES_PER_MINUTE = 40
"""Batch requests a minute per realm and app."""
REALM_BATCHES_PER_MINUTE = 120
"""Batch requests a minute per realm, every app together."""
BATCH_ITEMS = 30
"""Items in one batch request (more: fault 1040)."""
MINUTE_MARGIN_SECONDS = 2.0
"""Added to the minute by what counts it from a request's send (the batch coalescer's count, the
bulk estimate's minute): the limiter counts each request until its answer + the minute, a
round trip and the time to record the answer later than its send."""
REQUEST_SECONDS = 120.0
"""QuickBooks ends a request that runs longer than this (reference §1): the longest a request
can be in flight there, whether or not our side still waits for its answer."""


def minute_scale(requests_per_minute: int) -> float:
    """How a minute other than QBO's 500 scales QBO's other rates (only the emulator with its
    limits off runs one: tests, benchmarks): the second's and the batches' grow in proportion,
    so nothing else binds first. One home for the limiter and the bulk estimate."""
    return max(requests_per_minute, 1) / REQUESTS_PER_MINUTE


def scaled_rate(rate: int, requests_per_minute: int) -> int:
    """QBO's `rate` (set for 500 a minute) for another minute (`minute_scale`), at least 1."""
    return max(1, round(rate * minute_scale(requests_per_minute)))


# rentsync's own split of that budget (B9), one home for the limiter and the bulk preview.
REAL_TIME_RESERVE_PER_MINUTE = 60
"""Of a realm's requests a minute, those background work (a bulk sync) leaves to real-time sync:
the limiter's `background_headroom_per_minute`; a bulk sync plans for the rest (440)."""
REAL_TIME_RESERVE_LENT_AFTER_SECONDS = 60.0
"""After this long without a real-time request to a realm, background work may use the minute's
and the second's reserve too (not the in-flight one): a bulk sync of a quiet company runs at the
whole 500 a minute. The first real-time request takes it back; it waits only for the oldest
request to leave the window (well under a second while a bulk sync sends 500 a minute)."""
REAL_TIME_RESERVE_IN_FLIGHT = 3
"""Of the realm's in-flight slots, those background work leaves free for real-time sync."""
REAL_TIME_RESERVE_PER_SECOND = 1
"""Of the realm's 10 a second, those background work leaves to real-time sync: the minute's 60
pro rata. (Keeping the 3 in-flight slots there too left a bulk sync 7 per 1.2 s, 350 a minute,
below the 440 it plans for.)"""


def real_time_reserve_per_minute(requests_per_minute: int = REQUESTS_PER_MINUTE) -> int:
    """The reserve for a (test or emulator) minute other than QBO's 500: in proportion below it,
    never above the 60."""
    factor = min(minute_scale(requests_per_minute), 1.0)
    return round(REAL_TIME_RESERVE_PER_MINUTE * factor)


def real_time_reserve_per_second(requests_per_minute: int = REQUESTS_PER_MINUTE) -> int:
    """The second's reserve for a minute other than QBO's 500, in proportion below it (none
    when the second allows a single request, as at 50 a minute)."""
    factor = min(minute_scale(requests_per_minute), 1.0)
    return round(REAL_TIME_RESERVE_PER_SECOND * factor)


RECONNECT_WARNING = timedelta(days=30)
"""How long before the refresh token's hard expiry the connection warns that it must be
reconnected."""


def hard_expired(tokens: TokenSet | None, now: datetime) -> bool:
    """Past the refresh token's hard expiry (`x_refresh_token_hard_expires_in`): no refresh can
    succeed any more; only a new consent (reconnecting) brings the company back."""
    hard = tokens.refresh_hard_expires_at if tokens else None
    return hard is not None and hard <= now


def hard_expiry_lost_reason(hard_expires_at: datetime) -> str:
    return (
        f"QuickBooks' authorization ended on {hard_expires_at:%Y-%m-%d %H:%M} UTC (Intuit's hard "
        "expiry of a refresh token, after which consent must be given again): reconnect "
        "QuickBooks (POST /api/v1/qbo/connect)"
    )


def as_of(connection: StoredConnection, now: datetime) -> StoredConnection:
    """The stored connection as it stands at `now`: one stored as connected but past the
    refresh token's hard expiry is lost already (no refresh can succeed), whether or not
    anything has tried one since."""
    tokens = connection.tokens
    if connection.state is not StoredStatus.CONNECTED or not hard_expired(tokens, now):
        return connection
    assert tokens is not None and tokens.refresh_hard_expires_at is not None
    return replace(
        connection,
        state=StoredStatus.LOST,
        lost_at=tokens.refresh_hard_expires_at,
        lost_reason=hard_expiry_lost_reason(tokens.refresh_hard_expires_at),
    )


def reconnect_warning(tokens: TokenSet | None, now: datetime) -> str | None:
    """A warning while the hard expiry is near (within RECONNECT_WARNING), else None."""
    hard = tokens.refresh_hard_expires_at if tokens else None
    if hard is None or hard <= now or hard - now > RECONNECT_WARNING:
        return None
    return (
        f"QuickBooks must be reconnected by {hard:%Y-%m-%d %H:%M} UTC (Intuit's hard expiry of "
        "this authorization): reconnect it (POST /api/v1/qbo/connect) before then, or syncing "
        "stops."
    )


@dataclass(frozen=True, kw_only=True)
class CompanyFacts:
    """What the connection learns about the QBO company (CompanyInfo and Preferences)."""

    company_name: str = ""
    plan: str = ""
    """CompanyInfo's OfferingSku, e.g. "QuickBooks Online Plus"."""
    inventory_enabled: bool = False
    """Preferences.ProductAndServicesPrefs.QuantityOnHand."""
    ast_enabled: bool = False
    """Preferences.TaxPrefs.PartnerTaxEnabled (automated sales tax)."""
    country: str = ""


@dataclass(frozen=True, kw_only=True)
class StoredConnection:
    company_id: int
    state: StoredStatus
    environment: str
    realm_id: str | None
    facts: CompanyFacts
    tokens: TokenSet | None
    connected_at: datetime | None
    lost_at: datetime | None = None
    lost_reason: str | None = None
    disconnected_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class LogEntry:
    """One request to Intuit, bodies already stripped of secrets."""

    company_id: int
    realm_id: str | None
    at: datetime
    method: str
    path: str
    status: int | None
    duration_ms: float
    intuit_tid: str | None
    requestid: str | None
    request_body: str
    response_body: str
    error: str | None = None
