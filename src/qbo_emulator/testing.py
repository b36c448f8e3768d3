"""Helpers for tests: an in-process transport and a ready-made, authorised client.

Drop-after-commit in process: the app raises `faults.ConnectionDropped` after the write is
applied; `emulator_transport` turns it into `httpx2.RemoteProtocolError("Server disconnected without
sending a response.")`, the same error an httpx client gets over real HTTP.
"""

from __future__ import annotations

from typing import Any

import httpx2

from qbo_emulator.app import EmulatorApp, create_app
from qbo_emulator.faults import ConnectionDropped
from qbo_emulator.limits import LimitsConfig
from qbo_emulator.presets import Preset
from qbo_emulator.state import Config

__all__ = ["EmulatorTransport", "authorised_client", "emulator_transport", "fast_config"]


class EmulatorTransport(httpx2.ASGITransport):
    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await super().handle_async_request(request)
        except ConnectionDropped:
            raise httpx2.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None


def emulator_transport(app: EmulatorApp) -> EmulatorTransport:
    return EmulatorTransport(app=app)


def fast_config(**overrides: Any) -> Config:
    """Limits off, auto-approve on: for fast tests."""
    values: dict[str, Any] = {"limits": LimitsConfig(enabled=False), "auto_approve": True}
    values.update(overrides)
    return Config(**values)


def authorised_client(
    app: EmulatorApp | None = None, preset: Preset | None = None
) -> tuple[httpx2.AsyncClient, str, EmulatorApp]:
    """A client with a bearer token for a fresh company: (client, realm_id, app)."""
    app = app or create_app(fast_config())
    emulator = app.emulator
    company = emulator.add_company(preset or Preset())
    registered = emulator.oauth.register({"redirect_uris": ["https://example.com/callback"]})
    tokens = emulator.oauth.issue_direct(
        registered.client_id, company.realm_id, emulator.now().timestamp()
    )
    client = httpx2.AsyncClient(
        transport=emulator_transport(app),
        base_url="http://qbo.test",
        headers={
            "Authorization": f"Bearer {tokens['access_token']}",
            "Accept": "application/json",
        },
    )
    return client, company.realm_id, app
