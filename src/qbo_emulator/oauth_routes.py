"""HTTP endpoints for OAuth 2.0 and the OpenID discovery document."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from qbo_emulator import presets
from qbo_emulator.oauth import OAuthError, consent_page
from qbo_emulator.state import Emulator

AUTHORIZE = "/connect/oauth2"
TOKEN = "/oauth2/v1/tokens/bearer"  # noqa: S105 - a URL path, not a secret
REVOKE = "/oauth2/v1/tokens/revoke"


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


async def discovery(emu: Emulator, request: Request) -> Response:
    base = _base(request)
    return JSONResponse(
        {
            "issuer": f"{base}",
            "authorization_endpoint": base + AUTHORIZE,
            "token_endpoint": base + TOKEN,
            "userinfo_endpoint": base + "/v1/openid_connect/userinfo",
            "revocation_endpoint": base + REVOKE,
            "jwks_uri": base + "/oauth2/v1/keys",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        }
    )


def _oauth_error(error: OAuthError) -> Response:
    return JSONResponse(error.body(), error.status)


async def authorize(emu: Emulator, request: Request) -> Response:
    params = dict(request.query_params)
    try:
        app = emu.oauth.check_authorize(params)
    except OAuthError as error:
        return _oauth_error(error)
    auto = emu.oauth.auto_approve or params.get("auto_approve") == "true"
    if auto:
        realm = params.get("realm_id") or next(iter(emu.companies), None)
        if realm is None:
            realm = emu.add_company(presets.Preset()).realm_id
        if realm not in emu.companies:
            return _oauth_error(OAuthError("invalid_request", 400, f"unknown realm_id {realm}"))
        target = emu.oauth.approve(
            app, params["redirect_uri"], params.get("state", ""), realm, emu.now().timestamp()
        )
        return RedirectResponse(target, 302)
    realms = [(r, c.name) for r, c in emu.companies.items()]
    return HTMLResponse(consent_page(params, realms))


async def consent(emu: Emulator, request: Request) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        app = emu.oauth.check_authorize(form)
    except OAuthError as error:
        return _oauth_error(error)
    redirect_uri, state = form["redirect_uri"], form.get("state", "")
    if form.get("decision") != "approve":
        sep = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{sep}error=access_denied&state={state}", 302)
    realm = form.get("realm_id", "")
    if realm not in emu.companies:
        return _oauth_error(OAuthError("invalid_request", 400, "choose a company"))
    target = emu.oauth.approve(app, redirect_uri, state, realm, emu.now().timestamp())
    return RedirectResponse(target, 302)


async def token(emu: Emulator, request: Request) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        app = emu.oauth.client(headers, form)
        body = emu.oauth.token(app, form, emu.now().timestamp())
    except OAuthError as error:
        return _oauth_error(error)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def revoke(emu: Emulator, request: Request) -> Response:
    raw = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    payload: dict[str, Any]
    if "json" in headers.get("content-type", ""):
        payload = json.loads(raw or b"{}")
    else:
        payload = {k: str(v) for k, v in (await request.form()).items()}
    try:
        emu.oauth.client(headers, {k: str(v) for k, v in payload.items()})
    except OAuthError as error:
        return _oauth_error(error)
    emu.oauth.revoke(str(payload.get("token", "")))
    return Response(b"", 200)


async def userinfo(emu: Emulator, request: Request) -> Response:
    return JSONResponse({"sub": "emulator-user", "email": "user@example.com"})


async def keys(emu: Emulator, request: Request) -> Response:
    return JSONResponse({"keys": []})


ROUTES: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("GET", r"/\.well-known/openid_configuration/?", discovery),
    ("GET", r"/\.well-known/openid_sandbox_configuration/?", discovery),
    ("GET", AUTHORIZE, authorize),
    ("POST", AUTHORIZE + "/consent", consent),
    ("POST", TOKEN, token),
    ("POST", REVOKE, revoke),
    ("POST", "/v2/oauth2/tokens/revoke", revoke),
    ("GET", "/v1/openid_connect/userinfo", userinfo),
    ("GET", "/oauth2/v1/keys", keys),
)
