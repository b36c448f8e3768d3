"""Helpers every console screen uses for its actions: the audit and QuickBooks failures."""

from __future__ import annotations

from rentsync.bootstrap import Services
from rentsync.domain.people import ConsoleUser
from rentsync.people.service import Actor
from rentsync.qbo import errors

ACTION_LABELS: dict[str, str] = {
    "session.signed_in": "Signed in",
    "session.signed_out": "Signed out",
    "user.created": "Added a user",
    "user.updated": "Changed a user",
    "user.password_set": "Set a password",
    "signin_link.minted": "Sign-in link made (rental system)",
    "quickbooks.connect_started": "Started connecting QuickBooks",
    "quickbooks.disconnected": "Disconnected QuickBooks",
    "settings.saved": "Saved the sync settings",
    "tax_rates.synced": "Synced tax rates with QuickBooks",
    "bulk_sync.created": "Asked for a bulk sync's preview",
    "bulk_sync.started": "Started a bulk sync",
    "bulk_sync.cancelled": "Cancelled a bulk sync",
}
"""How the Audit page names each action (a screen adding an action adds its words here; the
code is shown beside them either way)."""


async def audited(
    services: Services,
    user: ConsoleUser,
    action: str,
    target: str = "",
    detail: dict[str, object] | None = None,
) -> None:
    """Record what `user` did (the audit's one home is `people.record`)."""
    await services.people.record(Actor.of(user), action, target, detail)


def qbo_failure(exc: errors.QboError) -> str:
    """A QuickBooks failure in words for a flash message: what happened and what to do."""
    text = f"QuickBooks: {exc.message or type(exc).__name__}"
    if exc.code:
        text += f" (code {exc.code})"
    if exc.remedy:
        text += f". {exc.remedy}"
    return text
