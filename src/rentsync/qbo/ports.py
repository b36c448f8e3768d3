"""What `rentsync.qbo` needs from persistence, as Protocols; `rentsync.store` implements them.

`bootstrap` wires the PostgreSQL implementations in; unit tests pass in-memory ones.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from rentsync.domain.qbo import (
    CompanyFacts,
    LogEntry,
    StoredConnection,
    StoredStatus,
    TokenSet,
)

__all__ = [
    "CompanyFacts",
    "ConnectionStore",
    "InFlightSlots",
    "LockedConnection",
    "LogEntry",
    "RateWindow",
    "RequestLog",
    "StoredConnection",
    "StoredStatus",
    "TokenSet",
]


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

    async def save_facts(self, company_id: int, facts: CompanyFacts) -> None: ...

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


class RequestLog(Protocol):
    async def record(self, entry: LogEntry) -> None: ...
