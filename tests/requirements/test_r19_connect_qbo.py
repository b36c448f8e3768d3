"""R19: connect and disconnect QuickBooks with OAuth 2.0; a lost connection is detected and shown.

Against the emulator in process: the rentsync API, the browser's trip to Intuit (auto-approve),
the callback, the status, a real API call with the stored tokens, and disconnect (revoked).
"""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from rentsync import bootstrap
from rentsync.api.app import create_app
from rentsync.qbo import errors
from rentsync.settings import Settings
from tests.qbo_fixtures import REDIRECT, qbo_harness


async def test_connect_status_use_and_disconnect(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        before = await h.api.get("/api/v1/qbo/connection", headers=h.headers)
        assert before.json()["state"] == "not_connected"

        status = await h.connect()
        assert status["state"] == "connected"
        assert status["environment"] == "emulator"
        assert status["realm_id"] == h.realm
        assert status["company_name"] == h.emulator.emulator.companies[h.realm].name
        assert status["plan"] == "QuickBooks Online Plus"
        assert status["inventory_enabled"] is True
        assert status["ast_enabled"] is True
        assert status["connected_since"] is not None
        assert status["access_token_expires_at"] > status["connected_since"]
        assert status["refresh_token_expires_at"] > status["access_token_expires_at"]
        assert not any("token" in str(v).lower() for v in status.values() if isinstance(v, str))

        client = await h.services.qbo.client_for(h.company_id)
        created = await client.create(
            "Customer", {"DisplayName": "O'Keefe Events"}, requestid="rs-r19-customer"
        )
        assert created.intuit_tid
        found = await client.find_by("Customer", "DisplayName", "O'Keefe Events")
        assert [c["Id"] for c in found] == [created.id]

        stored = await h.services.connections.get(h.company_id)
        assert stored is not None and stored.tokens is not None
        access = stored.tokens.access_token
        assert h.emulator.emulator.oauth.authenticate(access, 0) is not None

        gone = await h.api.delete("/api/v1/qbo/connection", headers=h.headers)
        assert gone.status_code == 200
        assert gone.json()["state"] == "not_connected"
        assert gone.json()["disconnected_at"] is not None
        # Revoked at Intuit, forgotten here.
        assert h.emulator.emulator.oauth.authenticate(access, 0) is None
        stored = await h.services.connections.get(h.company_id)
        assert stored is not None and stored.tokens is None
        with pytest.raises(errors.NotConnected) as caught:
            await h.services.qbo.client_for(h.company_id)
        assert "QuickBooks not connected" in str(caught.value)


async def test_state_is_single_use_signed_and_company_bound(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        started = await h.api.post("/api/v1/qbo/connect", headers=h.headers)
        async with h.browser() as browser:
            consent = await browser.get(started.json()["authorize_url"])
        query = urlsplit(consent.headers["location"]).query
        params = {k: v[0] for k, v in parse_qs(query).items()}

        forged = dict(params, state=params["state"][:-2] + "xx")
        response = await h.api.get("/qbo/callback", params=forged)
        assert response.status_code == 400 and "signature" in response.text
        assert (await h.api.get("/qbo/callback", params=params)).status_code == 200
        replay = await h.api.get("/qbo/callback", params=params)
        assert replay.status_code == 400 and "already used" in replay.text

        denied = await h.api.get("/qbo/callback", params={"error": "access_denied"})
        assert denied.status_code == 400

        # The authorize URL carries what Intuit needs.
        authorize = parse_qs(urlsplit(started.json()["authorize_url"]).query)
        assert authorize["redirect_uri"] == [REDIRECT]
        assert authorize["scope"] == ["com.intuit.quickbooks.accounting"]
        assert authorize["response_type"] == ["code"]


async def test_connect_needs_an_api_key(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        assert (await h.api.post("/api/v1/qbo/connect")).status_code == 401
        assert (await h.api.get("/api/v1/qbo/connection")).status_code == 401


async def test_a_lost_connection_is_shown_and_reconnect_keeps_connected_since(
    settings: Settings,
) -> None:
    async with qbo_harness(settings) as h:
        first = await h.connect()
        stored = await h.services.connections.get(h.company_id)
        assert stored is not None and stored.tokens is not None
        # The user disconnects rentsync inside QuickBooks: every token of the grant is revoked.
        h.emulator.emulator.oauth.revoke(stored.tokens.refresh_token)
        client = await h.services.qbo.client_for(h.company_id)
        with pytest.raises(errors.AuthRevoked):
            await client.company_info()
        lost = (await h.api.get("/api/v1/qbo/connection", headers=h.headers)).json()
        assert lost["state"] == "lost"
        assert "invalid_grant" in lost["lost_reason"]
        assert lost["lost_at"] is not None
        with pytest.raises(errors.NotConnected) as caught:
            await h.services.qbo.client_for(h.company_id)
        assert "lost" in str(caught.value)

        again = await h.connect()
        assert again["state"] == "connected"
        assert again["connected_since"] == first["connected_since"]
        assert again["lost_reason"] is None


async def test_r19_connect_while_quickbooks_is_unreachable_says_so_plainly(
    settings: Settings,
) -> None:
    """It read "QuickBooks could not be reached: no-intuit_tid: Unreachable: ...": the log's
    form of the error (for Intuit support), not a sentence for the person connecting."""

    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("Connection refused", request=request)

    unreachable = dataclasses.replace(
        settings,
        qbo_environment="emulator",
        qbo_emulator_url="http://127.0.0.1:9",
        qbo_client_id="client",
        qbo_client_secret="secret",
        qbo_redirect_uri=REDIRECT,
    )
    app = create_app(unreachable, with_worker=False, qbo_transport=httpx2.MockTransport(refuse))
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://rentsync.test"
        ) as api,
    ):
        services: bootstrap.Services = app.state.services
        _, key = await services.companies.create("Unreachable Rentals")
        response = await api.post(
            "/api/v1/qbo/connect", headers={"Authorization": f"Bearer {key.key}"}
        )
    assert response.status_code == 502, response.text
    detail = response.json()["detail"]
    assert detail.startswith("QuickBooks could not be reached: ")
    assert "could not connect" in detail
    assert "intuit_tid" not in detail and "Unreachable" not in detail
