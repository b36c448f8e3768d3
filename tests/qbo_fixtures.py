"""A rentsync API wired to an in-process QBO emulator, for the QBO and R19/R16 tests.

Imported explicitly (no pytest_plugins): `async with qbo_harness(settings) as h: ...`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx2

from qbo_emulator.app import EmulatorApp
from qbo_emulator.app import create_app as create_emulator
from qbo_emulator.limits import LimitsConfig
from qbo_emulator.presets import Preset
from qbo_emulator.state import Config
from qbo_emulator.testing import emulator_transport
from rentsync import bootstrap
from rentsync.api.app import create_app
from rentsync.domain.access import Permission
from rentsync.qbo.client import ClientSettings
from rentsync.settings import Settings

REDIRECT = "https://rentsync.test/qbo/callback"
EMULATOR_URL = "http://qbo.test"
FAST_CLIENT = ClientSettings(
    timeout_seconds=10.0, throttle_wait_seconds=0.5, max_throttle_wait_seconds=0.5
)


@dataclass
class EmulatorClock:
    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Harness:
    emulator: EmulatorApp
    clock: EmulatorClock
    client_id: str
    client_secret: str
    settings: Settings
    api: httpx2.AsyncClient
    services: bootstrap.Services
    company_id: int
    api_key: str
    realm: str
    seen_tokens: set[str] = field(default_factory=set)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def browser(self) -> httpx2.AsyncClient:
        """The user's browser, talking to the emulator (Intuit's consent page)."""
        return httpx2.AsyncClient(
            transport=emulator_transport(self.emulator), base_url=EMULATOR_URL
        )

    def remember_tokens(self) -> None:
        """Every token the emulator knows now (for the no-plaintext checks)."""
        oauth = self.emulator.emulator.oauth
        self.seen_tokens.update(oauth.access, oauth.refresh, oauth.codes)

    async def connect(self) -> dict[str, Any]:
        """The whole R19 flow: connect -> Intuit (auto-approve) -> callback -> status."""
        started = await self.api.post("/api/v1/qbo/connect", headers=self.headers)
        assert started.status_code == 200, started.text
        async with self.browser() as browser:
            consent = await browser.get(started.json()["authorize_url"])
        assert consent.status_code == 302, consent.text
        location = urlsplit(consent.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
        self.remember_tokens()
        landed = await self.api.get(f"/qbo/callback?{location.query}")
        assert landed.status_code == 200, landed.text
        assert "QuickBooks connected" in landed.text
        self.remember_tokens()
        status = await self.api.get("/api/v1/qbo/connection", headers=self.headers)
        assert status.status_code == 200
        result: dict[str, Any] = status.json()
        return result

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        async with self.browser() as http:
            response = await http.request(method, path, json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


@contextlib.asynccontextmanager
async def qbo_harness(
    settings: Settings,
    *,
    limits: bool = False,
    token_ttl: int = 3600,
    preset: Preset | None = None,
    client_settings: ClientSettings = FAST_CLIENT,
    **config: Any,
) -> AsyncIterator[Harness]:
    """`config`: further emulator settings (e.g. `refresh_hard_lifetime_seconds`)."""
    clock = EmulatorClock()
    emulator = create_emulator(
        Config(
            limits=LimitsConfig(enabled=limits),
            auto_approve=True,
            token_ttl=token_ttl,
            clock=clock,
            **config,
        )
    )
    company = emulator.emulator.add_company(preset or Preset(ast=True))
    registered = emulator.emulator.oauth.register({"redirect_uris": [REDIRECT]})
    settings = dataclasses.replace(
        settings,
        qbo_environment="emulator",
        qbo_emulator_url=EMULATOR_URL,
        qbo_client_id=registered.client_id,
        qbo_client_secret=registered.client_secret,
        qbo_redirect_uri=REDIRECT,
    )
    app = create_app(
        settings,
        with_worker=False,
        qbo_transport=emulator_transport(emulator),
        qbo_client_settings=client_settings,
    )
    async with app.router.lifespan_context(app):
        services: bootstrap.Services = app.state.services
        created, key = await services.companies.create(
            "Harness Party Rentals", permissions=frozenset({Permission.VIEW_QBO_LOGS})
        )
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://rentsync.test"
        ) as api:
            yield Harness(
                emulator=emulator,
                clock=clock,
                client_id=registered.client_id,
                client_secret=registered.client_secret,
                settings=settings,
                api=api,
                services=services,
                company_id=created.id,
                api_key=key.key,
                realm=company.realm_id,
            )
