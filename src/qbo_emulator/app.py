"""The ASGI application: a small router over Starlette requests and responses.

`create_app(config)` is a factory; nothing happens at import time. The app is a plain ASGI callable
(not a Starlette app) so that drop-after-commit can close the connection without any response:
Starlette's error middleware would otherwise answer 500.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qbo_emulator import admin, admin_view, api, faults, oauth_routes
from qbo_emulator.state import Config, Emulator

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[..., Awaitable[Response]]


class EmulatorApp:
    """ASGI app; `.emulator` is the state, for tests that want to look inside."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for method, pattern, handler in (
            *api.ROUTES,
            *oauth_routes.ROUTES,
            *admin.ROUTES,
            *admin_view.ROUTES,
        ):
            self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(self.emulator, receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            response = await self._dispatch(request)
        except faults.ConnectionDropped:
            if _abort_connection(send):
                return  # real server: the socket is gone, the client sees a closed connection
            raise  # in-process: testing.emulator_transport turns this into a transport error
        await response(scope, receive, send)

    async def _dispatch(self, request: Request) -> Response:
        path, method = request.url.path, request.method
        allowed = False
        for route_method, pattern, handler in self.routes:
            match = pattern.match(path)
            if match is None:
                continue
            if route_method != method:
                allowed = True
                continue
            return await handler(self.emulator, request, **match.groupdict())
        status = 405 if allowed else 404
        return JSONResponse({"error": "method not allowed" if allowed else "not found"}, status)


def _abort_connection(send: Send) -> bool:
    """Over a real server, kill the socket so not even uvicorn's 500 gets out."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        transport.abort()
        return True
    return False


async def _lifespan(emulator: Emulator, receive: Receive, send: Send) -> None:
    from qbo_emulator import persist

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if emulator.config.state_file:
                persist.load(emulator, emulator.config.state_file)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if emulator.config.state_file:
                persist.save(emulator, emulator.config.state_file)
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(config: Config | None = None) -> EmulatorApp:
    return EmulatorApp(Emulator(config or Config()))
