"""What a request asks of a QBO company's shared limits (see rentsync.qbo.limits), as plain data
both the limiter and its PostgreSQL store speak."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ring:
    """A rolling-window limit: at most `size` requests reaching QuickBooks in any
    `window_seconds` (each counted until its answer, the latest moment it may arrive there); an
    ask may go only while `headroom` more would still fit (background work leaves that much to
    real-time)."""

    kind: str
    size: int
    window_seconds: float
    headroom: int = 0


@dataclass(frozen=True)
class HeldSlot:
    realm_id: str
    slot: int
    holder: str
    keep_slot: bool = False
    """Answered or given up on, but possibly still running at QuickBooks (no answer in time):
    its arrival ends here, its in-flight slot stays taken until its lease ends."""


@dataclass(frozen=True, kw_only=True)
class SlotAsk:
    realm_id: str
    holder: str
    lease_seconds: float
    capacity: int
    keep_free: int
    """Slots that must stay free after this one is taken (0 for real-time work)."""
    rings: tuple[Ring, ...]
    background: bool = False
    """Background work (a bulk sync); anything else is real-time and takes its reserve back."""
    lend_after_seconds: float | None = None
    """Background work may use the real-time reserve of the rings (their `headroom`) once the
    realm has had no real-time ask for this long (None: never)."""
    release: tuple[HeldSlot, ...] = ()
    """Requests this process finished with (answered or given up on), recorded in the same
    statement: their arrival ends, their slots are given back."""
