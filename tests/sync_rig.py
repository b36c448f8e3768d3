"""A rental business connected to an in-process QBO emulator through the real OAuth flow, with
rentsync's API and a worker in-process: what the requirement tests drive."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2

from qbo_emulator.app import EmulatorApp, create_app
from qbo_emulator.testing import emulator_transport, fast_config
from rentsync.settings import Settings
from tests.conftest import api_client_for

EMULATOR_URL = "http://qbo.test"
RENTSYNC_URL = "http://rentsync.test"
FINAL_STATES = {"synced", "skipped", "failed"}


def account_mapping(preset_accounts: dict[str, str]) -> dict[str, str]:
    """The usual mapping (`PUT /api/v1/settings` accounts) of an emulator company's preset
    chart of accounts."""
    return {
        "income": preset_accounts["income"],
        "expense": preset_accounts["cogs"],
        "asset": preset_accounts["inventory"],
        "payable": preset_accounts["ap"],
        "vendor_payment": preset_accounts["bank"],
        "deposit": preset_accounts["undeposited"],
    }


@dataclasses.dataclass
class Rig:
    api: httpx2.AsyncClient
    qbo: httpx2.AsyncClient
    emulator: EmulatorApp
    realm: str
    accounts: dict[str, str]
    headers: dict[str, str]
    company_id: int

    async def connect(self) -> dict[str, Any]:
        """Connect as a user would: authorize link -> consent page -> callback."""
        started = await self.api.post("/api/v1/qbo/connect", headers=self.headers)
        assert started.status_code == 200, started.text
        authorize_url = started.json()["authorize_url"]
        consent_page = await self.qbo.get(authorize_url)
        assert consent_page.status_code == 200, consent_page.text
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        form = {
            key: query[key]
            for key in ("client_id", "redirect_uri", "state", "scope", "response_type")
            if key in query
        }
        approved = await self.qbo.post(
            "/connect/oauth2/consent",
            data={**form, "realm_id": self.realm, "decision": "approve"},
        )
        assert approved.status_code == 302, approved.text
        callback = urlsplit(approved.headers["location"])
        landed = await self.api.get(f"{callback.path}?{callback.query}")
        assert landed.status_code == 200, landed.text
        status = (await self.api.get("/api/v1/qbo/connection", headers=self.headers)).json()
        assert status["state"] == "connected", status
        return dict(status)

    async def map_accounts(self, **overrides: str) -> None:
        accounts = {**account_mapping(self.accounts), **overrides}
        saved = await self.api.put(
            "/api/v1/settings",
            json={"sync_mode": "all_orders_and_quotes", "accounts": accounts},
            headers=self.headers,
        )
        assert saved.status_code == 200, saved.text

    async def ready_with_catalogue(self) -> None:
        """Connected, accounts mapped, customer C-1 and product P-TENT sent: most tests' start."""
        from tests import ingest_fixtures as make

        await self.connect()
        await self.map_accounts()
        await self.put("customers", "C-1", make.customer())
        await self.put("products", "P-TENT", make.rental_product())

    async def sync_tax_rates(self) -> list[dict[str, Any]]:
        pulled = await self.api.post("/api/v1/tax-rates/sync", headers=self.headers)
        assert pulled.status_code == 200, pulled.text
        return list(pulled.json())

    async def put(self, plural: str, source_id: str, body: dict[str, Any]) -> httpx2.Response:
        response = await self.api.put(
            f"/api/v1/{plural}/{source_id}", json=body, headers=self.headers
        )
        assert response.status_code in (200, 202), response.text
        return response

    async def status(self, plural: str, source_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/api/v1/{plural}/{source_id}/sync", headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def settled(
        self,
        plural: str,
        source_id: str,
        *,
        revision: int | None = None,
        attempts_after: int = 0,
        timeout: float = 20,
    ) -> dict[str, Any]:
        """The status once the document's latest job has finished (synced, skipped or failed):
        for `revision` (after an update), or after more than `attempts_after` attempts in its
        history (after a resync)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            status = await self.status(plural, source_id)
            history = status["history"] or []
            done = status["state"] in FINAL_STATES and len(history) > attempts_after
            if done and (revision is None or history[0]["revision"] >= revision):
                return status
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{plural}/{source_id} did not settle: {status}")
            await asyncio.sleep(0.05)

    async def qbo_entities(self, entity: str) -> list[dict[str, Any]]:
        books = (await self.qbo.get(f"/admin/companies/{self.realm}")).json()
        found = books.get("entities", books).get(entity, [])
        return list(found.values()) if isinstance(found, dict) else list(found)

    async def act(
        self, entity: str, entity_id: str, action: str, body: dict[str, Any] | None = None
    ) -> None:
        response = await self.qbo.post(
            f"/admin/companies/{self.realm}/act/{entity}/{entity_id}/{action}", json=body or {}
        )
        assert response.status_code == 200, response.text

    async def faults(self, plan: dict[str, Any]) -> None:
        response = await self.qbo.put(f"/admin/companies/{self.realm}/faults", json=plan)
        assert response.status_code == 200, response.text


@contextlib.asynccontextmanager
async def rig_for(
    settings: Settings,
    *,
    preset: dict[str, Any] | None = None,
    settings_overrides: dict[str, Any] | None = None,
    serve: Callable[[Any], str] | None = None,
    with_worker: bool = True,
    **emulator_config: Any,
) -> AsyncIterator[Rig]:
    """`settings_overrides` replace Settings fields after the rig's own (e.g. a shorter
    transient backoff or a larger worker concurrency). `serve`: serve the emulator over HTTP
    (returns its base URL), so that worker processes can reach it too."""
    emulator = create_app(fast_config(auto_approve=False, **emulator_config))
    transport: httpx2.AsyncBaseTransport | None = emulator_transport(emulator)
    base_url = EMULATOR_URL
    if serve is not None:
        base_url, transport = serve(emulator), None
    async with httpx2.AsyncClient(transport=transport, base_url=base_url) as qbo:
        app = (
            await qbo.post("/admin/apps", json={"redirect_uris": [f"{RENTSYNC_URL}/qbo/callback"]})
        ).json()
        company = (await qbo.post("/admin/companies", json=preset or {"plan": "plus"})).json()
        connected_settings = dataclasses.replace(
            settings,
            qbo_environment="emulator",
            qbo_emulator_url=base_url,
            qbo_client_id=app["client_id"],
            qbo_client_secret=app["client_secret"],
            qbo_redirect_uri=f"{RENTSYNC_URL}/qbo/callback",
            sync_locked_retry_seconds=0.2,
        )
        connected_settings = dataclasses.replace(connected_settings, **(settings_overrides or {}))
        async with api_client_for(
            connected_settings, with_worker=with_worker, qbo_transport=transport
        ) as api:
            services = api.app.state.services  # type: ignore[attr-defined]
            created, key = await services.companies.create("Party Time Rentals")
            yield Rig(
                api=api,
                qbo=qbo,
                emulator=emulator,
                realm=company["realmId"],
                accounts=company["accounts"],
                headers={"Authorization": f"Bearer {key.key}"},
                company_id=created.id,
            )
