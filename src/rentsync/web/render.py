"""Rendering pages: one Jinja2 environment (autoescaped), the base layout's context (user,
navigation, CSRF token, flash messages) and flash messages kept in the session."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any, Literal

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from rentsync.domain.people import Ability, ConsoleUser
from rentsync.web import nav

_templates: list[Jinja2Templates] = []

FlashKind = Literal["success", "error", "info"]


def as_utc(moment: datetime | None) -> str:
    """How the console shows a time: in UTC, to the minute (the `utc` filter)."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def templates() -> Jinja2Templates:
    """Built on first use (no work at import time)."""
    if not _templates:
        directory = str(resources.files("rentsync.web") / "templates")
        built = Jinja2Templates(directory=directory)
        built.env.filters["utc"] = as_utc
        _templates.append(built)
    return _templates[0]


def flash(request: Request, message: str, kind: FlashKind = "success") -> None:
    """A message shown once, on the next page rendered for this browser."""
    request.session.setdefault("flash", []).append({"kind": kind, "message": message})


def csrf_token(request: Request) -> str:
    getter = request.scope.get("csrftoken")
    return str(getter()) if getter else ""


def render(
    request: Request,
    template: str,
    user: ConsoleUser | None,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    messages = request.session.pop("flash", []) if "session" in request.scope else []
    return templates().TemplateResponse(
        request,
        template,
        {
            "user": user,
            "nav": nav.entries_for(user) if user else [],
            "Ability": Ability,
            "csrf_token": csrf_token(request),
            "flashes": messages,
            **(context or {}),
        },
        status_code=status_code,
    )
