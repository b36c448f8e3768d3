"""Helpers every console screen uses for its actions: the audit and QuickBooks failures."""

from __future__ import annotations

from rentsync.bootstrap import Services
from rentsync.domain.people import ConsoleUser
from rentsync.people.service import Actor
from rentsync.qbo import errors


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
