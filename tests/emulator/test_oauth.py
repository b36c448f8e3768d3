"""OAuth 2.0: consent, code exchange, expiry, rotation, revoke, discovery."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx2

from qbo_emulator.app import create_app
from qbo_emulator.presets import Preset
from qbo_emulator.testing import emulator_transport, fast_config

REDIRECT = "https://app.example.com/callback"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 6, 11, 13, 49, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_authorize_code_token_refresh_rotation_and_revoke() -> None:
    clock = Clock()
    app = create_app(fast_config(auto_approve=False, token_ttl=60, clock=clock))
    realm = app.emulator.add_company(Preset()).realm_id
    async with httpx2.AsyncClient(
        transport=emulator_transport(app), base_url="http://qbo.test"
    ) as http:
        registered = (await http.post("/admin/apps", json={"redirect_uris": [REDIRECT]})).json()
        discovery = (await http.get("/.well-known/openid_configuration")).json()
        assert discovery["token_endpoint"] == "http://qbo.test/oauth2/v1/tokens/bearer"
        params = {
            "client_id": registered["client_id"],
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "state": "xyz",
        }
        page = await http.get("/connect/oauth2", params=params)
        assert page.status_code == 200 and realm in page.text
        approved = await http.post(
            "/connect/oauth2/consent", data={**params, "realm_id": realm, "decision": "approve"}
        )
        callback = parse_qs(urlparse(approved.headers["location"]).query)
        assert callback["realmId"] == [realm] and callback["state"] == ["xyz"]
        basic = base64.b64encode(
            f"{registered['client_id']}:{registered['client_secret']}".encode()
        ).decode()
        token = await http.post(
            "/oauth2/v1/tokens/bearer",
            data={
                "grant_type": "authorization_code",
                "code": callback["code"][0],
                "redirect_uri": REDIRECT,
            },
            headers={"Authorization": f"Basic {basic}"},
        )
        tokens = token.json()
        assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 60
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (
            await http.get(f"/v3/company/{realm}/preferences", headers=bearer)
        ).status_code == 200
        clock.now += timedelta(seconds=61)
        assert (
            await http.get(f"/v3/company/{realm}/preferences", headers=bearer)
        ).status_code == 401
        post_auth = {
            "client_id": registered["client_id"],
            "client_secret": registered["client_secret"],
        }
        refreshed = await http.post(
            "/oauth2/v1/tokens/bearer",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                **post_auth,
            },
        )
        same = refreshed.json()
        # Within a day QBO returns the same refresh token value; its lifetime keeps counting down.
        assert same["refresh_token"] == tokens["refresh_token"]
        assert same["access_token"] != tokens["access_token"]
        assert same["x_refresh_token_expires_in"] == tokens["x_refresh_token_expires_in"] - 61
        clock.now += timedelta(hours=24)
        rotated = await http.post(
            "/oauth2/v1/tokens/bearer",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                **post_auth,
            },
        )
        new = rotated.json()
        assert new["refresh_token"] != tokens["refresh_token"]
        assert new["x_refresh_token_expires_in"] == tokens["x_refresh_token_expires_in"]
        again = await http.post(
            "/oauth2/v1/tokens/bearer",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                **post_auth,
            },
        )
        assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
        revoked = await http.post(
            "/oauth2/v1/tokens/revoke",
            json={"token": new["refresh_token"]},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert revoked.status_code == 200
        bearer = {"Authorization": f"Bearer {new['access_token']}"}
        assert (
            await http.get(f"/v3/company/{realm}/preferences", headers=bearer)
        ).status_code == 401


async def test_auto_approve_redirects_with_code_and_wrong_secret_is_invalid_client() -> None:
    app = create_app(fast_config())
    async with httpx2.AsyncClient(
        transport=emulator_transport(app), base_url="http://qbo.test"
    ) as http:
        registered = (await http.post("/admin/apps", json={"redirect_uris": [REDIRECT]})).json()
        response = await http.get(
            "/connect/oauth2",
            params={
                "client_id": registered["client_id"],
                "redirect_uri": REDIRECT,
                "response_type": "code",
                "scope": "com.intuit.quickbooks.accounting",
            },
        )
        assert response.status_code == 302 and "code=" in response.headers["location"]
        bad = await http.post(
            "/oauth2/v1/tokens/bearer",
            data={
                "grant_type": "authorization_code",
                "code": "x",
                "redirect_uri": REDIRECT,
                "client_id": registered["client_id"],
                "client_secret": "wrong",
            },
        )
        assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


async def test_refresh_rotation_period_is_configurable() -> None:
    clock = Clock()
    app = create_app(fast_config(refresh_rotation_seconds=0, clock=clock))
    realm = app.emulator.add_company(Preset()).realm_id
    oauth = app.emulator.oauth
    registered = oauth.register({"redirect_uris": [REDIRECT]})
    first = oauth.issue_direct(registered.client_id, realm, clock.now.timestamp())
    async with httpx2.AsyncClient(
        transport=emulator_transport(app), base_url="http://qbo.test"
    ) as http:
        form = {
            "grant_type": "refresh_token",
            "client_id": registered.client_id,
            "client_secret": registered.client_secret,
        }
        refreshed = await http.post(
            "/oauth2/v1/tokens/bearer", data={**form, "refresh_token": first["refresh_token"]}
        )
        assert refreshed.status_code == 200
        assert refreshed.json()["refresh_token"] != first["refresh_token"]
        stale = await http.post(
            "/oauth2/v1/tokens/bearer", data={**form, "refresh_token": first["refresh_token"]}
        )
        assert stale.status_code == 400 and stale.json() == {"error": "invalid_grant"}


async def test_i9_refresh_tokens_hard_expire_as_intuit_reports_it() -> None:
    """choices.REFRESH_TOKEN_HARD_LIFETIME_SECONDS: reported as x_refresh_token_hard_expires_in,
    no token outlives it, and a refresh after it is invalid_grant."""
    clock = Clock()
    app = create_app(fast_config(refresh_hard_lifetime_seconds=7200, clock=clock))
    realm = app.emulator.add_company(Preset()).realm_id
    oauth = app.emulator.oauth
    registered = oauth.register({"redirect_uris": [REDIRECT]})
    first = oauth.issue_direct(registered.client_id, realm, clock.now.timestamp())
    assert first["x_refresh_token_hard_expires_in"] == 7200
    assert first["x_refresh_token_expires_in"] == 7200  # capped by the hard expiry
    default = create_app(fast_config()).emulator.oauth
    other = default.register({"redirect_uris": [REDIRECT]})
    assert (
        default.issue_direct(other.client_id, realm, 0)["x_refresh_token_hard_expires_in"]
        == 5 * 365 * 86_400
    )
    form = {
        "grant_type": "refresh_token",
        "client_id": registered.client_id,
        "client_secret": registered.client_secret,
        "refresh_token": first["refresh_token"],
    }
    async with httpx2.AsyncClient(
        transport=emulator_transport(app), base_url="http://qbo.test"
    ) as http:
        clock.now += timedelta(seconds=5400)
        later = await http.post("/oauth2/v1/tokens/bearer", data=form)
        assert later.status_code == 200
        assert later.json()["x_refresh_token_hard_expires_in"] == 1800
        assert later.json()["expires_in"] == 1800  # the access token ends with the consent
        clock.now += timedelta(seconds=1801)
        after = await http.post("/oauth2/v1/tokens/bearer", data=form)
        assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
