"""A company's QuickBooks connection as the sync policy sees it: a state and when it began."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class ConnectionState(enum.StrEnum):
    """Values equal the strings stored with the connection."""

    NOT_CONNECTED = "not_connected"
    """The company never connected QuickBooks, or disconnected it on purpose."""
    CONNECTED = "connected"
    LOST = "lost"
    """QuickBooks refused our tokens (revoked, expired refresh token): the user must reconnect."""


@dataclass(frozen=True, kw_only=True)
class Connection:
    """`connected_at` is when the company connected its current QuickBooks company (realm).

    Documents first received before it are "created before connection" (R14). Re-authorising a
    LOST connection to the same realm keeps `connected_at`: documents that arrived while it was
    lost must sync once it is back, not wait for an update.
    """

    state: ConnectionState
    connected_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.state is ConnectionState.NOT_CONNECTED:
            return
        if self.connected_at is None:
            raise ValueError(f"a {self.state.value} connection needs connected_at")
        if self.connected_at.utcoffset() is None:
            raise ValueError("connected_at must be timezone-aware")

    @classmethod
    def none(cls) -> Connection:
        return cls(state=ConnectionState.NOT_CONNECTED)

    @classmethod
    def connected(cls, at: datetime) -> Connection:
        return cls(state=ConnectionState.CONNECTED, connected_at=at)

    @classmethod
    def lost(cls, connected_at: datetime) -> Connection:
        return cls(state=ConnectionState.LOST, connected_at=connected_at)
