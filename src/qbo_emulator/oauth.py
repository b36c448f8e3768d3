"""OAuth 2.0 as Intuit runs it: authorize (consent), token (code, refresh with rotation), revoke.

Rotation follows QBO (see `choices`): a refresh returns the same refresh token value until that
value is `refresh_rotation_seconds` old; the refresh after that returns a new value, and the
previous one is refused with `invalid_grant`.
"""

from __future__ import annotations

import base64
import binascii
import html
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from qbo_emulator import choices

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


@dataclass(frozen=True)
class OAuthApp:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": list(self.redirect_uris),
        }


@dataclass
class Grant:
    client_id: str
    realm_id: str
    expires_at: float
    family: str  # one consent; revoking any token of it revokes all
    issued_at: float = 0.0  # when this value was first issued (refresh tokens rotate by its age)
    successor: str = ""  # a rotated refresh token: the value that replaced it
    hard_expires_at: float = 0.0  # the consent's hard end (choices.REFRESH_TOKEN_HARD_*); 0: none


class OAuthError(Exception):
    def __init__(self, error: str, status: int = 400, description: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.description = description

    def body(self) -> dict[str, str]:
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


@dataclass
class OAuthState:
    apps: dict[str, OAuthApp] = field(default_factory=dict)
    codes: dict[str, tuple[str, str, str, float]] = field(default_factory=dict)
    access: dict[str, Grant] = field(default_factory=dict)
    refresh: dict[str, Grant] = field(default_factory=dict)
    token_ttl: int = 3600
    auto_approve: bool = False
    refresh_rotation_seconds: float = choices.REFRESH_TOKEN_ROTATION_SECONDS
    refresh_hard_lifetime_seconds: float = choices.REFRESH_TOKEN_HARD_LIFETIME_SECONDS

    def reset(self) -> None:
        self.apps.clear()
        self.codes.clear()
        self.access.clear()
        self.refresh.clear()

    def register(self, body: dict[str, Any]) -> OAuthApp:
        uris = body.get("redirect_uris") or []
        if not isinstance(uris, list) or not uris:
            raise OAuthError(
                "invalid_request", description="redirect_uris must be a non-empty list"
            )
        app = OAuthApp(
            client_id=str(body.get("client_id") or "AB" + secrets.token_hex(20)),
            client_secret=str(body.get("client_secret") or secrets.token_hex(20)),
            redirect_uris=tuple(str(u) for u in uris),
        )
        self.apps[app.client_id] = app
        return app

    def check_authorize(self, params: dict[str, str]) -> OAuthApp:
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            raise OAuthError("invalid_client", 400, "Unknown client_id")
        if params.get("redirect_uri") not in app.redirect_uris:
            raise OAuthError("invalid_request", 400, "redirect_uri is not registered for this app")
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type")
        if ACCOUNTING_SCOPE not in params.get("scope", "").split():
            raise OAuthError("invalid_scope", 400, f"scope must include {ACCOUNTING_SCOPE}")
        return app

    def approve(
        self, app: OAuthApp, redirect_uri: str, state: str, realm_id: str, now: float
    ) -> str:
        code = "AB11" + secrets.token_urlsafe(24)
        self.codes[code] = (app.client_id, redirect_uri, realm_id, now + 600)
        query = urlencode({"code": code, "state": state, "realmId": realm_id})
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}"

    def client(self, headers: dict[str, str], form: dict[str, str]) -> OAuthApp:
        """client_secret_basic or client_secret_post."""
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", 401) from None
        app = self.apps.get(client_id)
        if app is None or not secrets.compare_digest(app.client_secret, secret):
            raise OAuthError("invalid_client", 401)
        return app

    def token(self, app: OAuthApp, form: dict[str, str], now: float) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            entry = self.codes.pop(form.get("code", ""), None)
            if entry is None or entry[0] != app.client_id or entry[3] < now:
                raise OAuthError("invalid_grant")
            if form.get("redirect_uri") != entry[1]:
                raise OAuthError("invalid_grant", description="redirect_uri mismatch")
            hard = now + self.refresh_hard_lifetime_seconds
            return self._issue(app.client_id, entry[2], secrets.token_hex(8), now, hard=hard)
        if grant_type == "refresh_token":
            old = form.get("refresh_token", "")
            grant = self.refresh.get(old)
            if grant is None or grant.client_id != app.client_id or grant.expires_at < now:
                raise OAuthError("invalid_grant")
            if grant.hard_expires_at and grant.hard_expires_at <= now:
                raise OAuthError("invalid_grant", description="refresh token hard expired")
            hard = grant.hard_expires_at
            if grant.successor:  # rotated, still inside REFRESH_TOKEN_PREVIOUS_VALID_SECONDS
                if grant.successor not in self.refresh:
                    raise OAuthError("invalid_grant")
                return self._issue(
                    app.client_id, grant.realm_id, grant.family, now, grant.successor, hard=hard
                )
            if now - grant.issued_at < self.refresh_rotation_seconds:
                return self._issue(app.client_id, grant.realm_id, grant.family, now, old, hard=hard)
            fresh = self._issue(app.client_id, grant.realm_id, grant.family, now, hard=hard)
            if choices.REFRESH_TOKEN_PREVIOUS_VALID_SECONDS > 0:
                grant.successor = fresh["refresh_token"]
                grant.expires_at = min(
                    grant.expires_at, now + choices.REFRESH_TOKEN_PREVIOUS_VALID_SECONDS
                )
            else:
                del self.refresh[old]
            return fresh
        raise OAuthError("unsupported_grant_type")

    def _issue(
        self,
        client_id: str,
        realm_id: str,
        family: str,
        now: float,
        refresh: str = "",
        *,
        hard: float,
    ) -> dict[str, Any]:
        """A new access token with `refresh` (kept, with its own expiry) or a new refresh token.
        `hard`: the consent's hard expiry, which no token of it outlives."""
        access = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + secrets.token_urlsafe(48)
        access_until = min(now + self.token_ttl, hard) if hard else now + self.token_ttl
        self.access[access] = Grant(client_id, realm_id, access_until, family, now)
        if not refresh:
            refresh = "RT1-" + secrets.token_urlsafe(36)
            until = now + choices.REFRESH_TOKEN_TTL_SECONDS
            if hard:
                until = min(until, hard)
            self.refresh[refresh] = Grant(
                client_id, realm_id, until, family, now, hard_expires_at=hard
            )
        answer: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": int(access_until - now),
            "refresh_token": refresh,
            "x_refresh_token_expires_in": int(self.refresh[refresh].expires_at - now),
            "access_token": access,
        }
        if hard:
            answer["x_refresh_token_hard_expires_in"] = int(hard - now)
        return answer

    def issue_direct(self, client_id: str, realm_id: str, now: float) -> dict[str, Any]:
        """Admin shortcut: tokens without the browser dance."""
        hard = now + self.refresh_hard_lifetime_seconds
        return self._issue(client_id, realm_id, secrets.token_hex(8), now, hard=hard)

    def revoke(self, token: str) -> None:
        grant = self.refresh.get(token) or self.access.get(token)
        if grant is None:
            return
        for table in (self.refresh, self.access):
            for key in [k for k, g in table.items() if g.family == grant.family]:
                del table[key]

    def authenticate(self, token: str, now: float) -> Grant | None:
        grant = self.access.get(token)
        if grant is None or grant.expires_at <= now:
            return None
        return grant


def consent_page(params: dict[str, str], realms: list[tuple[str, str]]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k in {"client_id", "redirect_uri", "state", "scope", "response_type"}
    )
    options = "".join(
        f'<option value="{html.escape(r)}">{html.escape(n)} ({html.escape(r)})</option>'
        for r, n in realms
    )
    return (
        "<!doctype html><html><head><title>Connect to QuickBooks (emulator)</title></head><body>"
        "<h1>Connect your QuickBooks company</h1>"
        f"<p>The app <b>{html.escape(params.get('client_id', ''))}</b> asks to access your "
        "accounting data.</p>"
        f'<form method="post" action="/connect/oauth2/consent">{hidden}'
        f'<label>Company <select name="realm_id">{options}</select></label> '
        '<button name="decision" value="approve">Connect</button> '
        '<button name="decision" value="deny">Cancel</button></form></body></html>'
    )
