"""The web console (issue 12): server-rendered pages (FastAPI + Jinja2 + htmx, vendored) under
`/` on the same app as the API, calling the same services (never the app's own HTTP API).

What a screen module builds on:
- `install(app, settings)` (called once by `rentsync.api.app.create_app`) adds the session and
  CSRF middleware (`web.security`), the static files under `/static`, every console router and
  the error pages. A new screen: a module with an `APIRouter` (`include_in_schema=False`),
  listed in `_ROUTERS` below, and an entry in `web.nav.NAV`.
- `web.auth`: `CurrentUser` (the signed-in `ConsoleUser`; a browser without a valid session is
  sent to /signin) and `requires(Ability.X)` (403 unless the role holds it; see
  `domain.people` for who holds what: viewers change nothing, only owners connect, disconnect,
  map accounts and manage users; `Ability.VIEW_QBO_LOGS` follows the user's flag).
- `web.render.render(request, "page.html", user, {...})`: pages extend `base.html` (skip link,
  navigation, flash messages; blocks `title` and `content`); `render.flash(request, msg)`
  shows a message on the next page. Every form carries
  `<input type="hidden" name="csrftoken" value="{{ csrf_token }}">`; htmx requests send it
  from `hx-headers` on <body> by themselves.
- `web.actions.audited(services, user, action, target, detail)`: record a console action
  (every change a screen makes), shown to owners on /audit.
- Styles: `static/console.css` (classes: .card, .table-wrap, table.data, .badge-ok/-warn/-bad,
  .button, .button-danger, .muted, .field-error); htmx at `/static/vendor/htmx-2.0.11.min.js`.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from rentsync.web import (
    account,
    auth,
    bulk,
    dashboard,
    documents,
    messages,
    people,
    qbo_logs,
    quickbooks,
    render,
    security,
    signin,
)

if TYPE_CHECKING:
    from rentsync.settings import Settings

_ROUTERS = (
    signin.router,
    dashboard.router,
    documents.router,
    messages.router,
    bulk.router,
    qbo_logs.router,
    account.router,
    quickbooks.router,
    people.router,
)


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, auth.SignInRequired)
    target = f"/signin?next={exc.next_path}"
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    return render.render(
        request,
        "error.html",
        None,
        {
            "title": "Not allowed",
            "message": "Your role does not allow this. Ask an owner of your company.",
        },
        status_code=403,
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the console on `app` (no I/O: keys and services come with the first request)."""
    static = str(resources.files("rentsync.web") / "static")
    app.mount("/static", StaticFiles(directory=static), name="static")
    for router in _ROUTERS:
        app.include_router(router)
    app.add_exception_handler(auth.SignInRequired, _sign_in_required)
    app.add_exception_handler(auth.Forbidden, _forbidden)
    app.add_middleware(security.ConsoleSecurity, secure=security.secure_cookies(settings.host))
