"""Sessions and CSRF for the console, as one ASGI middleware.

- Session: Starlette's SessionMiddleware (a cookie signed with itsdangerous; HttpOnly,
  SameSite=Lax, Secure unless the console is served on a loopback address over plain http).
  It holds only the user's id and session version; `people.session_user` checks both on every
  request.
- CSRF: asgi-csrf (double-submit: a signed `csrftoken` cookie that every unsafe request must
  repeat, in the `csrftoken` form field or the `x-csrftoken` header that htmx sends from the
  page's `hx-headers`). The API (`/api/`, API keys, no cookies) and Intuit's callback (GET) are
  outside it.
- The keys are derived from the secret key (`bootstrap.ConsoleKeys`) when the services start,
  so the middleware is built on the first request: building the app does no I/O.
"""

from __future__ import annotations

import base64
import ipaddress
from typing import Any

from asgi_csrf import asgi_csrf
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rentsync.bootstrap import ConsoleKeys

SESSION_COOKIE = "rentsync_session"
SESSION_MAX_AGE_SECONDS = 12 * 3600
CSRF_COOKIE = "csrftoken"
CSRF_FIELD = "csrftoken"
CSRF_HEADER = "x-csrftoken"


def secure_cookies(host: str) -> bool:
    """Secure cookies everywhere but a console served on a loopback address (plain http)."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


_NOT_CONSOLE_PREFIXES = ("/api/", "/docs", "/redoc")
CONSOLE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    # Scripts only from the console's own files (no inline script); no page may be framed
    # (clickjacking of its buttons). Inline style attributes are allowed (charts' widths).
    (
        b"content-security-policy",
        b"default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
        b"base-uri 'self'; object-src 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    # A sign-in link's token is in its path: never sent on as a Referer.
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    # Pages show a company's data: not kept by shared caches or the back button's cache.
    (b"cache-control", b"no-store"),
)
"""Added to every HTML page but the API's Swagger and ReDoc pages (JSON answers keep theirs)."""


def _with_console_headers(message: Message) -> Message:
    headers = dict(message.get("headers") or [])
    if not headers.get(b"content-type", b"").startswith(b"text/html"):
        return message
    present = {name.lower() for name in headers}
    extra = [(n, v) for n, v in CONSOLE_HEADERS if n not in present]
    return {**message, "headers": [*(message.get("headers") or []), *extra]}


def _outside_console(scope: dict[str, Any]) -> bool:
    path: str = scope.get("path", "")
    return path.startswith("/api/") or path == "/qbo/callback"


async def _csrf_refused(scope: Scope, send: Send, message_id: Any) -> None:
    body = (
        b"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Refused</title>"
        b"</head><body><h1>This form has expired</h1><p>The page was open too long or came from "
        b"elsewhere. <a href='/'>Go back to the console</a> and try again.</p></body></html>"
    )
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"text/html; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ConsoleSecurity:
    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self._app = app
        self._secure = secure
        self._wrapped: dict[bool, ASGIApp] = {}

    def _build(self, keys: ConsoleKeys, secure: bool) -> ASGIApp:
        protected = asgi_csrf(
            self._app,
            cookie_name=CSRF_COOKIE,
            http_header=CSRF_HEADER,
            signing_secret=base64.urlsafe_b64encode(keys.csrf).decode(),
            skip_if_scope=_outside_console,
            cookie_secure=secure,
            cookie_samesite="Lax",
            send_csrf_failed=_csrf_refused,
        )
        return SessionMiddleware(
            protected,
            secret_key=base64.urlsafe_b64encode(keys.session).decode(),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE_SECONDS,
            same_site="lax",
            https_only=secure,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        # Behind a TLS proxy on a loopback address the request arrives as https (uvicorn takes
        # X-Forwarded-Proto from trusted proxies): the cookies are Secure then too.
        secure = self._secure or scope.get("scheme") == "https"
        wrapped = self._wrapped.get(secure)
        if wrapped is None:
            services = getattr(scope["app"].state, "services", None)
            if services is None:  # not started: nothing to protect yet
                await self._app(scope, receive, send)
                return
            wrapped = self._wrapped[secure] = self._build(services.console_keys, secure)
        started = False
        console = not scope.get("path", "").startswith(_NOT_CONSOLE_PREFIXES)

        async def send_watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if console:
                    message = _with_console_headers(message)
            await send(message)

        try:
            await wrapped(scope, receive, send_watched)
        except UnicodeDecodeError:
            # asgi-csrf reads a form body as UTF-8 before anything else sees it.
            if started:
                raise
            await PlainTextResponse("The form is not UTF-8.", status_code=400)(scope, receive, send)
