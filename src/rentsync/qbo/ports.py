"""What `rentsync.qbo` needs from persistence, as Protocols; `rentsync.store` implements them.

`bootstrap` wires the PostgreSQL implementations in; unit tests pass in-memory ones.
"""

from __future__ import annotations

import enum
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class ConnectionState(enum.StrEnum):
    """Values equal the strings stored in `qbo_connections.status`."""

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
    state: ConnectionState
    environment: str
    realm_id: str | None
    facts: CompanyFacts
    tokens: TokenSet | None
    connected_at: datetime | None
    lost_at: datetime | None = None
    lost_reason: str | None = None
    disconnected_at: datetime | None = None


class LockedConnection(Protocol):
    """A connection row held exclusively (across processes) until the block exits and commits."""

    @property
    def connection(self) -> StoredConnection | None: ...

    async def save_tokens(self, tokens: TokenSet) -> None: ...

    async def mark_lost(self, reason: str) -> None: ...


class ConnectionStore(Protocol):
    async def get(self, company_id: int) -> StoredConnection | None: ...

    def locked(self, company_id: int) -> AbstractAsyncContextManager[LockedConnection]:
        """Lock the row (SELECT ... FOR UPDATE); changes commit when the block exits."""
        ...

    async def save_connected(
        self,
        company_id: int,
        *,
        environment: str,
        realm_id: str,
        tokens: TokenSet,
        facts: CompanyFacts,
    ) -> None: ...

    async def forget(self, company_id: int) -> None:
        """Disconnect: drop the tokens, keep the realm for the record."""
        ...

    async def save_state(self, nonce: str, company_id: int, expires_at: datetime) -> None: ...

    async def consume_state(self, nonce: str, company_id: int) -> bool:
        """True exactly once for a saved, unexpired nonce of that company."""
        ...


class RateWindow(Protocol):
    async def hit(self, realm_id: str, kind: str) -> tuple[int, float]:
        """Count one request in the current minute; (count so far, seconds left in the minute)."""
        ...


class InFlightSlots(Protocol):
    async def acquire(
        self, realm_id: str, *, capacity: int, holder: str, lease_seconds: float
    ) -> int | None:
        """A free slot number below `capacity`, leased to `holder`; None when all are taken."""
        ...

    async def release(self, realm_id: str, slot: int, holder: str) -> None: ...


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


class RequestLog(Protocol):
    async def record(self, entry: LogEntry) -> None: ...
