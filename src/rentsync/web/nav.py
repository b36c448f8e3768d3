"""The console's navigation, in one place: each screen adds its entry here.

An entry shows only to users who may open it (`ability` None: every signed-in user).
"""

from __future__ import annotations

from dataclasses import dataclass

from rentsync.domain.people import Ability, ConsoleUser


@dataclass(frozen=True)
class NavEntry:
    label: str
    path: str
    ability: Ability | None = None


NAV: tuple[NavEntry, ...] = (
    NavEntry("Dashboard", "/"),
    NavEntry("Documents", "/documents"),
    NavEntry("System messages", "/messages"),
    NavEntry("Bulk sync", "/bulk-syncs"),
    NavEntry("QuickBooks logs", "/quickbooks/logs", Ability.VIEW_QBO_LOGS),
    NavEntry("QuickBooks", "/settings/quickbooks"),
    NavEntry("Tax rates", "/settings/tax-rates"),
    NavEntry("Users", "/users", Ability.MANAGE_USERS),
    NavEntry("Audit", "/audit", Ability.READ_AUDIT),
)


def entries_for(user: ConsoleUser) -> list[NavEntry]:
    return [e for e in NAV if e.ability is None or user.may(e.ability)]
