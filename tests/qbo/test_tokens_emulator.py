"""Token expiry, refresh before expiry and on a 401, rotation, hard expiry, invalid_grant."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from rentsync.qbo import errors
from rentsync.settings import Settings
from tests.qbo_fixtures import qbo_harness


async def _expire_access_token(h: object) -> None:
    services = h.services  # type: ignore[attr-defined]
    async with services.pool.connection() as conn:
        await conn.execute(
            "UPDATE qbo_connections SET access_expires_at = now() - interval '1 minute'"
        )
    services.qbo.tokens.forget(h.company_id)  # type: ignore[attr-defined]


async def test_refresh_before_expiry_rotates_and_saves(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        before = await h.services.connections.get(h.company_id)
        assert before is not None and before.tokens is not None
        h.clock.offset = timedelta(hours=25)  # QBO rotates a refresh token value about daily
        await _expire_access_token(h)

        client = await h.services.qbo.client_for(h.company_id)
        info = await client.company_info()
        assert info["CompanyName"]

        after = await h.services.connections.get(h.company_id)
        assert after is not None and after.tokens is not None
        assert h.services.qbo.tokens.refreshes == 1
        assert after.tokens.refresh_token != before.tokens.refresh_token  # rotated, saved
        assert after.tokens.access_token != before.tokens.access_token
        assert after.tokens.access_expires_at > before.tokens.access_expires_at
        # The old refresh token is dead at Intuit: only the saved one works.
        assert before.tokens.refresh_token not in h.emulator.emulator.oauth.refresh
        assert after.tokens.refresh_token in h.emulator.emulator.oauth.refresh


async def test_a_401_refreshes_once_and_retries(settings: Settings) -> None:
    async with qbo_harness(settings, token_ttl=3600) as h:
        await h.connect()
        client = await h.services.qbo.client_for(h.company_id)
        await client.preferences()
        # Intuit's clock says the token expired although ours does not: a 401.
        h.clock.offset = timedelta(hours=2)
        prefs = await client.preferences()
        assert "TaxPrefs" in prefs
        assert h.services.qbo.tokens.refreshes == 1
        statuses = [
            e.status for e in await h.services.qbo_log.page(h.company_id, limit=20) if e.status
        ]
        assert 401 in statuses


async def test_concurrent_refreshers_in_one_process_refresh_once(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        await _expire_access_token(h)
        client = await h.services.qbo.client_for(h.company_id)
        results = await asyncio.gather(
            *(client.preferences() for _ in range(20)), return_exceptions=True
        )
        assert not [r for r in results if isinstance(r, BaseException)]
        assert h.services.qbo.tokens.refreshes == 1


async def test_invalid_grant_marks_the_connection_lost(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        stored = await h.services.connections.get(h.company_id)
        assert stored is not None and stored.tokens is not None
        # The refresh token is gone at Intuit (e.g. used elsewhere after a rotation).
        del h.emulator.emulator.oauth.refresh[stored.tokens.refresh_token]
        await _expire_access_token(h)
        client = await h.services.qbo.client_for(h.company_id)
        with pytest.raises(errors.AuthRevoked) as caught:
            await client.preferences()
        assert caught.value.code == "invalid_grant"
        assert stored.tokens.refresh_token not in str(caught.value)
        status = await h.services.qbo.status(h.company_id)
        assert status.state == "lost"
        assert status.lost_reason is not None and "invalid_grant" in status.lost_reason
        lost = await h.services.connections.get(h.company_id)
        assert lost is not None and lost.tokens is None


async def test_refresh_within_the_day_keeps_the_refresh_token(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        before = await h.services.connections.get(h.company_id)
        assert before is not None and before.tokens is not None
        await _expire_access_token(h)
        client = await h.services.qbo.client_for(h.company_id)
        await client.company_info()
        after = await h.services.connections.get(h.company_id)
        assert after is not None and after.tokens is not None
        assert h.services.qbo.tokens.refreshes == 1
        assert after.tokens.access_token != before.tokens.access_token
        assert after.tokens.refresh_token == before.tokens.refresh_token
        assert after.tokens.refresh_token in h.emulator.emulator.oauth.refresh


async def test_i9_the_refresh_tokens_hard_expiry_is_warned_before_and_lost_after(
    settings: Settings,
) -> None:
    """Intuit's hard expiry (x_refresh_token_hard_expires_in, emulated): the connection warns
    while it is near, and after it the company is lost with the reason and the remedy."""
    async with qbo_harness(settings, refresh_hard_lifetime_seconds=3 * 86_400) as h:
        await h.connect()
        stored = await h.services.connections.get(h.company_id)
        assert stored is not None and stored.tokens is not None
        assert stored.tokens.refresh_hard_expires_at is not None
        status = (await h.api.get("/api/v1/qbo/connection", headers=h.headers)).json()
        assert status["state"] == "connected"
        assert status["refresh_token_hard_expires_at"] is not None
        assert "must be reconnected by" in status["reconnect_warning"]
        assert "POST /api/v1/qbo/connect" in status["reconnect_warning"]
        health = (await h.api.get("/health")).json()
        assert health["quickbooks"] == {"reconnect_soon": 1, "past_hard_expiry": 0}
        # Three days on: past the hard expiry at Intuit and for rentsync.
        h.clock.offset = timedelta(days=3, minutes=1)
        async with h.services.pool.connection() as conn:
            await conn.execute(
                "UPDATE qbo_connections SET refresh_hard_expires_at = now() - interval '1 minute'"
            )
        shown = (await h.api.get("/api/v1/qbo/connection", headers=h.headers)).json()
        assert shown["state"] == "lost" and shown["reconnect_warning"] is None
        assert "hard expiry" in shown["lost_reason"]
        health = (await h.api.get("/health")).json()
        assert health["quickbooks"] == {"reconnect_soon": 0, "past_hard_expiry": 1}
        await _expire_access_token(h)
        with pytest.raises(errors.AuthRevoked):
            client = await h.services.qbo.client_for(h.company_id)
            await client.preferences()
        lost = await h.services.connections.get(h.company_id)
        assert lost is not None and lost.state.value == "lost"
        assert lost.lost_reason is not None and "reconnect QuickBooks" in lost.lost_reason
        assert h.services.qbo.tokens.refreshes == 0, "no refresh is sent past the hard expiry"
