"""The console's people: roles and what each may do (one home for these decisions).

- viewer: sees every screen of its company and changes nothing;
- bookkeeper: also does the day's work (sync tax rates, resync documents, bulk syncs);
- owner: also connects and disconnects QuickBooks, saves the sync mode and account mapping,
  manages users and reads the audit.
The QuickBooks log needs the `view_qbo_logs` flag whatever the role (an owner may grant it,
themselves included).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Role(enum.StrEnum):
    OWNER = "owner"
    BOOKKEEPER = "bookkeeper"
    VIEWER = "viewer"


class Ability(enum.StrEnum):
    """What a console route asks for; `abilities_of` says which role holds it."""

    WORK = "work"
    """Day-to-day changes: sync tax rates, resync documents, create, start and cancel bulk
    syncs."""
    MANAGE_QUICKBOOKS = "manage_quickbooks"
    """Connect, disconnect, sync mode and account mapping."""
    MANAGE_USERS = "manage_users"
    READ_AUDIT = "read_audit"
    VIEW_QBO_LOGS = "view_qbo_logs"


_BY_ROLE: dict[Role, frozenset[Ability]] = {
    Role.VIEWER: frozenset(),
    Role.BOOKKEEPER: frozenset({Ability.WORK}),
    Role.OWNER: frozenset(
        {Ability.WORK, Ability.MANAGE_QUICKBOOKS, Ability.MANAGE_USERS, Ability.READ_AUDIT}
    ),
}


def abilities_of(role: Role, *, view_qbo_logs: bool) -> frozenset[Ability]:
    extra = {Ability.VIEW_QBO_LOGS} if view_qbo_logs else set()
    return _BY_ROLE[role] | extra


@dataclass(frozen=True, kw_only=True)
class ConsoleUser:
    id: int
    company_id: int
    email: str
    name: str
    role: Role
    view_qbo_logs: bool
    active: bool
    session_version: int
    has_password: bool

    def may(self, ability: Ability) -> bool:
        return self.active and ability in abilities_of(self.role, view_qbo_logs=self.view_qbo_logs)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
"""Argon2 hashes any length; the cap keeps a request from making us hash megabytes."""


def text_problem(text: str) -> str | None:
    """Why a name or address cannot be stored as text (control characters such as NUL, which
    PostgreSQL refuses, or a lone surrogate, which is not UTF-8), or None."""
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return "remove the control characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "use ordinary text (this is not valid Unicode)"
    return None


def normalize_email(raw: str) -> str:
    """The address as stored and looked up: trimmed, lower-case; ValueError when malformed."""
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email) or text_problem(email):
        raise ValueError("enter an e-mail address like name@example.com")
    return email


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return "use ordinary characters (this is not valid Unicode)"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"use at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"use at most {MAX_PASSWORD_LENGTH} characters"
    return None
