"""The OAuth 2.0 protocol with Intuit, through Authlib: authorization URL, code exchange,
refresh, revoke. Each call uses a short-lived `AsyncOAuth2Client` (an httpx2 client) on the
injected transport; its requests go to the QuickBooks log with secrets removed.

Errors: `invalid_grant` (and any refusal of our refresh token or code) -> `errors.AuthRevoked`;
`invalid_client` -> `errors.AuthRevoked` too (the app's credentials are wrong); transport
errors -> `errors.Unreachable` / `errors.UncertainOutcome`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from rentsync.domain.clock import utcnow
from rentsync.qbo import errors, http, redact
from rentsync.qbo.environments import Endpoints, Environment, endpoints_from
from rentsync.qbo.ports import LogEntry, RequestLog, TokenSet

SCOPE = "com.intuit.quickbooks.accounting"


class OAuthApp:
    """rentsync's Intuit app in one environment."""

    def __init__(
        self,
        *,
        environment: Environment,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        transport: http.Transport | None = None,
        timeout_seconds: float = 30.0,
        request_log: RequestLog | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.environment = environment
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self._transport = transport
        self._timeout = timeout_seconds
        self._log = request_log
        self._clock = clock
        self._endpoints: Endpoints | None = None

    def __repr__(self) -> str:
        return f"OAuthApp({self.environment.name}, client_id={self.client_id!r})"

    def _client(self, company_id: int | None) -> AsyncOAuth2Client:
        hooks: dict[str, list[Callable[[Any], Awaitable[None]]]] = {}
        if self._log is not None and company_id is not None:
            hooks["request"] = [_stamp]
            hooks["response"] = [self._logger(company_id)]
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            revocation_endpoint_auth_method="client_secret_basic",
            scope=SCOPE,
            redirect_uri=self.redirect_uri,
            transport=self._transport,
            timeout=http.timeout_for(self._timeout),
            event_hooks=hooks,
            trust_env=self._transport is None,
        )

    async def endpoints(self) -> Endpoints:
        """From the discovery document, fetched once per process."""
        if self._endpoints is None:
            async with http.make_client(transport=self._transport, timeout=self._timeout) as client:
                answer = await http.send(client, "GET", self.environment.discovery_url)
            if answer.status != 200:
                raise errors.ServerError(
                    f"the discovery document answered HTTP {answer.status}",
                    http_status=answer.status,
                )
            self._endpoints = endpoints_from(errors.loads(answer.body))
        return self._endpoints

    async def authorization_url(self, state: str) -> str:
        endpoints = await self.endpoints()
        client = self._client(None)
        try:
            url, _ = client.create_authorization_url(endpoints.authorization, state=state)
        finally:
            await client.aclose()
        return str(url)

    async def exchange_code(self, code: str, *, company_id: int) -> TokenSet:
        endpoints = await self.endpoints()
        async with self._client(company_id) as client:
            token = await self._call(
                client.fetch_token(
                    endpoints.token,
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=self.redirect_uri,
                ),
                what="code exchange",
            )
        return self._token_set(token)

    async def refresh(self, refresh_token: str, *, company_id: int) -> TokenSet:
        endpoints = await self.endpoints()
        async with self._client(company_id) as client:
            token = await self._call(
                client.refresh_token(endpoints.token, refresh_token=refresh_token),
                what="token refresh",
            )
        return self._token_set(token, previous_refresh_token=refresh_token)

    async def revoke(self, token: str, *, company_id: int) -> None:
        endpoints = await self.endpoints()
        async with self._client(company_id) as client:
            response = await self._call(
                client.revoke_token(endpoints.revocation, token=token, token_type_hint=None),
                what="token revocation",
            )
        status = int(getattr(response, "status_code", 200))
        if status >= 400:
            raise errors.AuthRevoked(
                f"QuickBooks refused to revoke the token (HTTP {status})", http_status=status
            )

    async def _call(self, call: Awaitable[Any], *, what: str) -> Any:
        try:
            with http.translated(what=what):
                return await call
        except OAuthError as exc:
            code = str(exc.error or "oauth_error")
            raise errors.AuthRevoked(
                f"QuickBooks refused the {what}: {code}",
                code=code,
                detail=redact.values(str(exc.description or ""), ()),
                fault_type="OAuth",
            ) from None
        except ValueError as exc:  # a non-JSON answer from the token endpoint
            raise errors.ServerError(f"unreadable answer to the {what}") from exc

    def _token_set(self, token: dict[str, Any], *, previous_refresh_token: str = "") -> TokenSet:
        now = self._clock()

        def after(key: str) -> datetime | None:
            seconds = token.get(key)
            return now + timedelta(seconds=int(seconds)) if seconds is not None else None

        access_expires_at = after("expires_in") or now + timedelta(hours=1)
        return TokenSet(
            access_token=str(token["access_token"]),
            refresh_token=str(token.get("refresh_token") or previous_refresh_token),
            access_expires_at=access_expires_at,
            refresh_expires_at=after("x_refresh_token_expires_in"),
            refresh_hard_expires_at=after("x_refresh_token_hard_expires_in"),
        )

    def _logger(self, company_id: int) -> Callable[[Any], Awaitable[None]]:
        request_log = self._log
        clock = self._clock

        async def record(response: http.Response) -> None:
            assert request_log is not None
            body = await response.aread()
            request = response.request
            started = request.extensions.get("rentsync_started", time.perf_counter())
            entry = LogEntry(
                company_id=company_id,
                realm_id=None,
                at=clock(),
                method=request.method,
                path=redact.path(request.url.raw_path.decode()),
                status=response.status_code,
                duration_ms=(time.perf_counter() - started) * 1000,
                intuit_tid=response.headers.get("intuit_tid"),
                requestid=None,
                request_body=redact.body(
                    http.request_body(request), request.headers.get("content-type", "")
                ),
                response_body=redact.body(body, response.headers.get("content-type", "")),
            )
            with contextlib.suppress(Exception):  # the log never breaks the OAuth flow
                await request_log.record(entry)

        return record


async def _stamp(request: http.Request) -> None:
    request.extensions["rentsync_started"] = time.perf_counter()
