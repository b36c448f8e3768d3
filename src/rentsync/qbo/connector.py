"""QboService: connect, disconnect, status, and a client per company. Built by `bootstrap`.

Connect (R19): `start_connect(company)` returns Intuit's authorize URL with a signed, single-use,
expiring `state` (HMAC over company, expiry and a random nonce; the nonce is stored hashed and
deleted when used). `complete_connect(state, code, realm_id)` checks it, exchanges the code,
reads CompanyInfo and Preferences, and stores the connection. `disconnect` revokes and forgets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rentsync.domain.qbo import as_of, reconnect_warning
from rentsync.qbo import errors, http
from rentsync.qbo.client import ClientSettings, QboClient
from rentsync.qbo.limits import Limiter
from rentsync.qbo.oauth import OAuthApp
from rentsync.qbo.ports import (
    CompanyFacts,
    ConnectionStore,
    RequestLog,
    StoredConnection,
    StoredStatus,
    TokenSet,
)
from rentsync.qbo.tokens import TokenManager

log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)


class NotConfigured(Exception):
    """The Intuit app's client id/secret are not set (RENTSYNC_QBO_CLIENT_ID/_SECRET)."""


class InvalidState(Exception):
    """The callback's `state` is forged, expired, already used, or for another company."""


@dataclass(frozen=True, kw_only=True)
class ConnectionStatus:
    """What the status API shows. `state`: not_connected | connected | lost."""

    state: str
    environment: str
    realm_id: str | None = None
    company_name: str | None = None
    connected_since: datetime | None = None
    access_token_expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    refresh_token_hard_expires_at: datetime | None = None
    plan: str | None = None
    inventory_enabled: bool | None = None
    ast_enabled: bool | None = None
    lost_reason: str | None = None
    lost_at: datetime | None = None
    disconnected_at: datetime | None = None
    reconnect_warning: str | None = None
    """Set within 30 days of the refresh token's hard expiry: reconnect before it."""


def status_of(
    connection: StoredConnection | None, environment: str, now: datetime
) -> ConnectionStatus:
    if connection is None or connection.state is StoredStatus.DISCONNECTED:
        return ConnectionStatus(
            state="not_connected",
            environment=environment,
            disconnected_at=connection.disconnected_at if connection else None,
        )
    connection = as_of(connection, now)
    tokens = connection.tokens
    state, lost_reason, lost_at = connection.state.value, connection.lost_reason, connection.lost_at
    return ConnectionStatus(
        state=state,
        environment=connection.environment,
        realm_id=connection.realm_id,
        company_name=connection.facts.company_name,
        connected_since=connection.connected_at,
        access_token_expires_at=tokens.access_expires_at if tokens else None,
        refresh_token_expires_at=tokens.refresh_expires_at if tokens else None,
        refresh_token_hard_expires_at=tokens.refresh_hard_expires_at if tokens else None,
        plan=connection.facts.plan,
        inventory_enabled=connection.facts.inventory_enabled,
        ast_enabled=connection.facts.ast_enabled,
        lost_reason=lost_reason,
        lost_at=lost_at,
        reconnect_warning=reconnect_warning(tokens, now)
        if state == StoredStatus.CONNECTED.value
        else None,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class StaticTokens:
    """Tokens just received from the code exchange, before they are stored."""

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    async def current(self) -> str:
        return self._token

    async def refresh(self, rejected: str) -> str:
        raise errors.AuthRevoked("QuickBooks refused a token it has just issued")


def facts_from(info: dict[str, Any], preferences: dict[str, Any]) -> CompanyFacts:
    name_values = {
        str(item.get("Name")): str(item.get("Value"))
        for item in info.get("NameValue") or []
        if isinstance(item, dict)
    }
    products = preferences.get("ProductAndServicesPrefs") or {}
    tax = preferences.get("TaxPrefs") or {}
    return CompanyFacts(
        company_name=str(info.get("CompanyName") or ""),
        plan=name_values.get("OfferingSku", ""),
        inventory_enabled=bool(products.get("QuantityOnHand", False)),
        ast_enabled=bool(tax.get("PartnerTaxEnabled", False)),
        country=str(info.get("Country") or ""),
    )


class QboService:
    def __init__(
        self,
        *,
        store: ConnectionStore,
        oauth: OAuthApp,
        limiter: Limiter,
        signing_key: bytes,
        request_log: RequestLog | None = None,
        transport: http.Transport | None = None,
        client_settings: ClientSettings | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self.oauth = oauth
        self.environment = oauth.environment
        self.limiter = limiter
        self._signing_key = signing_key
        self._log = request_log
        self.client_settings = client_settings or ClientSettings()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.tokens = TokenManager(store=store, oauth=oauth, clock=self._clock)
        self._http = http.make_client(
            transport=transport, timeout=self.client_settings.timeout_seconds
        )

    async def aclose(self) -> None:
        await self.limiter.aclose()
        await self._http.aclose()

    # --- state ------------------------------------------------------------------------------

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._signing_key, payload.encode(), hashlib.sha256).digest())

    def _make_state(self, company_id: int, nonce: str, expires_at: datetime) -> str:
        payload = f"{company_id}.{int(expires_at.timestamp())}.{nonce}"
        return f"{payload}.{self._sign(payload)}"

    def _check_state(self, state: str) -> tuple[int, str]:
        parts = state.split(".")
        if len(parts) != 4:
            raise InvalidState("malformed state")
        payload, signature = ".".join(parts[:3]), parts[3]
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidState("the state's signature does not match")
        company, expires, nonce = parts[:3]
        if int(expires) < self._clock().timestamp():
            raise InvalidState("the connect link expired; start again")
        return int(company), nonce

    # --- connect / disconnect / status ------------------------------------------------------

    async def start_connect(self, company_id: int) -> str:
        """The URL to send the user's browser to (Intuit's consent page)."""
        if not self.oauth.client_id:
            raise NotConfigured(
                "QuickBooks is not configured: set RENTSYNC_QBO_CLIENT_ID and "
                "RENTSYNC_QBO_CLIENT_SECRET (the Intuit app's keys)"
            )
        nonce = secrets.token_urlsafe(24)
        expires_at = self._clock() + STATE_TTL
        await self._store.save_state(nonce, company_id, expires_at)
        return await self.oauth.authorization_url(self._make_state(company_id, nonce, expires_at))

    async def complete_connect(self, *, state: str, code: str, realm_id: str) -> ConnectionStatus:
        company_id, nonce = self._check_state(state)
        if not await self._store.consume_state(nonce, company_id):
            raise InvalidState("this connect link was already used or has expired")
        if not realm_id:
            raise InvalidState("the callback carries no realmId")
        tokens = await self.oauth.exchange_code(code, company_id=company_id)
        facts = await self._read_facts(company_id, realm_id, tokens)
        await self._store.save_connected(
            company_id,
            environment=self.environment.name,
            realm_id=realm_id,
            tokens=tokens,
            facts=facts,
        )
        self.tokens.forget(company_id)
        log.info(
            "QuickBooks connected",
            extra={"action": "qbo.connected", "company_id": company_id, "realm_id": realm_id},
        )
        return await self.status(company_id)

    async def _read_facts(self, company_id: int, realm_id: str, tokens: TokenSet) -> CompanyFacts:
        client = self._client(company_id, realm_id, StaticTokens(tokens.access_token))
        info = await client.company_info()
        preferences = await client.preferences()
        return facts_from(info, preferences)

    async def refresh_facts(self, company_id: int) -> CompanyFacts:
        """Re-read and store CompanyInfo and Preferences (plan, inventory, AST): a bookkeeper
        may upgrade the plan or switch automated sales tax on after connecting."""
        client = await self.client_for(company_id)
        facts = facts_from(await client.company_info(), await client.preferences())
        await self._store.save_facts(company_id, facts)
        return facts

    async def disconnect(self, company_id: int) -> ConnectionStatus:
        """Revoke at Intuit (best effort: the user may have revoked already) and forget."""
        connection = await self._store.get(company_id)
        if connection is not None and connection.tokens is not None:
            try:
                await self.oauth.revoke(connection.tokens.refresh_token, company_id=company_id)
            except errors.QboError as exc:
                log.warning(
                    "could not revoke the QuickBooks tokens; forgetting them anyway",
                    extra={"action": "qbo.revoke.failed", "company_id": company_id, "error": exc},
                )
        await self._store.forget(company_id)
        self.tokens.forget(company_id)
        return await self.status(company_id)

    def now(self) -> datetime:
        return self._clock()

    async def status(self, company_id: int) -> ConnectionStatus:
        return status_of(await self._store.get(company_id), self.environment.name, self._clock())

    # --- clients ----------------------------------------------------------------------------

    async def client_for(
        self, company_id: int, *, connection: StoredConnection | None = None
    ) -> QboClient:
        """A client for the company's connected realm; `errors.NotConnected` otherwise.
        `connection`: the stored connection, when the caller has just read it."""
        if connection is None:
            connection = await self._store.get(company_id)
        if connection is None or connection.state is not StoredStatus.CONNECTED:
            reason = "QuickBooks not connected"
            if connection is not None and connection.state is StoredStatus.LOST:
                reason = f"QuickBooks connection lost: {connection.lost_reason or 'reconnect'}"
            raise errors.NotConnected(reason)
        assert connection.realm_id is not None
        return self._client(company_id, connection.realm_id, self.tokens.for_company(company_id))

    def _client(self, company_id: int, realm_id: str, tokens: Any) -> QboClient:
        return QboClient(
            http_client=self._http,
            api_base_url=self.environment.api_base_url,
            company_id=company_id,
            realm_id=realm_id,
            tokens=tokens,
            limiter=self.limiter,
            request_log=self._log,
            settings=self.client_settings,
            clock=self._clock,
        )
