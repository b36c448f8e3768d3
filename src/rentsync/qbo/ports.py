"""What `rentsync.qbo` needs from persistence, as Protocols; `rentsync.store` implements them.

`bootstrap` wires the PostgreSQL implementations in; unit tests pass in-memory ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from rentsync.domain.limits import HeldSlot, Ring, SlotAsk
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
    "HeldSlot",
    "LockedConnection",
    "LogEntry",
    "RealmBudget",
    "RequestLog",
    "Ring",
    "SlotAsk",
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


class RealmBudget(Protocol):
    """A realm's limits shared by every process: in-flight slots, rolling rate windows and the
    wait QuickBooks asked for after a 429."""

    async def take(self, ask: SlotAsk) -> tuple[int | None, float]:
        """(slot, 0) with every ring stamped, or (None, seconds to wait; 0 when every slot is
        taken and the caller should poll)."""
        ...

    async def release(self, held: Sequence[HeldSlot]) -> None: ...

    async def block(self, realm_id: str, seconds: float) -> None:
        """No process sends to the realm for `seconds` (QuickBooks answered 429)."""
        ...


class RequestLog(Protocol):
    async def record(self, entry: LogEntry) -> None: ...
