"""QuickBooks connection values shared by `rentsync.qbo` (which uses them) and `rentsync.store`
(which persists them): plain frozen data, no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


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
