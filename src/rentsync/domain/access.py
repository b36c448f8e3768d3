"""Who may do what: companies are isolated; some reads need an explicit permission."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Permission(enum.StrEnum):
    """Values equal the strings stored with an API key."""

    VIEW_QBO_LOGS = "view_qbo_logs"
    """Read the QuickBooks request log (request and response bodies, secrets removed)."""
    RUN_DIAGNOSTICS = "run_diagnostics"
    """An operator's key: queue and read diagnostic pings (only the CLI can grant it)."""


@dataclass(frozen=True, kw_only=True)
class Principal:
    """The caller of an API request: one company, through one of its API keys."""

    company_id: int
    api_key_id: int
    permissions: frozenset[Permission]

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions
