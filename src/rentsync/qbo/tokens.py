"""Access tokens per company: read from the store, refreshed before expiry and on a 401.

One refresh at a time per company across all processes: the refresh runs while the connection
row is locked (`ConnectionStore.locked`, SELECT ... FOR UPDATE). A waiter that gets the lock
after another process refreshed finds a newer access token than the one it was unhappy with,
and uses it instead of refreshing again (which, with a rotated refresh token, would be refused
with `invalid_grant`). The new tokens are committed before the access token is handed out.
`invalid_grant` marks the connection lost, with the reason. The refresh token sent is the one
read under the lock, so a refusal is always a refusal of the stored token.

A kill at any point: QBO returns the same refresh token value for about a day, so until a
rotation the stored value stays valid whatever is lost after Intuit answered; a process killed
while holding the lock rolls back and the next one refreshes with the stored value. If the
database, not the process, fails between Intuit's answer and the commit, the answer is saved on
a fresh connection (the only copy of a rotated value). What remains: a process killed between
an answer that rotates the value (at most once a day per company) and the commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from rentsync.domain.clock import utcnow
from rentsync.domain.qbo import hard_expired, hard_expiry_lost_reason
from rentsync.qbo import errors
from rentsync.qbo.oauth import OAuthApp
from rentsync.qbo.ports import ConnectionStore, StoredConnection, StoredStatus, TokenSet

log = logging.getLogger(__name__)

DEFAULT_LEEWAY = timedelta(minutes=5)
"""Refresh when the access token has less than this left."""

LATE_SAVE_WAITS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
"""Pauses between tries to save an answer whose commit failed (about 30 s: a database restart)."""


def _usable(connection: StoredConnection | None) -> StoredConnection:
    if connection is None or connection.state is not StoredStatus.CONNECTED:
        reason = "QuickBooks not connected"
        if connection is not None and connection.state is StoredStatus.LOST:
            reason = f"QuickBooks connection lost: {connection.lost_reason or 'reconnect'}"
        raise errors.NotConnected(reason)
    if connection.tokens is None:
        raise errors.NotConnected("QuickBooks not connected")
    return connection


class TokenManager:
    def __init__(
        self,
        *,
        store: ConnectionStore,
        oauth: OAuthApp,
        clock: Callable[[], datetime] = utcnow,
        leeway: timedelta = DEFAULT_LEEWAY,
    ) -> None:
        self._store = store
        self._oauth = oauth
        self._clock = clock
        self._leeway = leeway
        self._cache: dict[int, tuple[str, datetime]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.refreshes = 0
        """Refresh calls this process made to the token endpoint (for tests and diagnostics)."""

    def for_company(self, company_id: int) -> CompanyTokens:
        return CompanyTokens(self, company_id)

    def forget(self, company_id: int) -> None:
        self._cache.pop(company_id, None)

    def _fresh(self, expires_at: datetime) -> bool:
        return expires_at > self._clock() + self._leeway

    async def current(self, company_id: int) -> str:
        cached = self._cache.get(company_id)
        if cached is not None and self._fresh(cached[1]):
            return cached[0]
        connection = _usable(await self._store.get(company_id))
        assert connection.tokens is not None
        if self._fresh(connection.tokens.access_expires_at):
            self._cache[company_id] = (
                connection.tokens.access_token,
                connection.tokens.access_expires_at,
            )
            return connection.tokens.access_token
        return await self.refresh(company_id, rejected=connection.tokens.access_token)

    async def refresh(self, company_id: int, *, rejected: str) -> str:
        """A valid access token other than `rejected` (refreshing only if nobody else has)."""
        self._cache.pop(company_id, None)
        lock = self._locks.setdefault(company_id, asyncio.Lock())
        lost: errors.AuthRevoked | None = None
        sent, new = "", None
        async with lock:
            try:
                async with self._store.locked(company_id) as row:
                    connection = _usable(row.connection)
                    tokens = connection.tokens
                    assert tokens is not None
                    if tokens.access_token != rejected and self._fresh(tokens.access_expires_at):
                        token, expires_at = tokens.access_token, tokens.access_expires_at
                    elif hard_expired(tokens, self._clock()):
                        assert tokens.refresh_hard_expires_at is not None
                        await row.mark_lost(hard_expiry_lost_reason(tokens.refresh_hard_expires_at))
                        lost = errors.AuthRevoked("the refresh token reached its hard expiry")
                    else:
                        sent = tokens.refresh_token
                        try:
                            self.refreshes += 1
                            new = await self._oauth.refresh(sent, company_id=company_id)
                        except errors.AuthRevoked as exc:
                            reason = (
                                f"QuickBooks refused the refresh token ({exc.code or 'refused'})"
                            )
                            if hard_expired(tokens, self._clock() + self._leeway):
                                assert tokens.refresh_hard_expires_at is not None
                                reason = hard_expiry_lost_reason(tokens.refresh_hard_expires_at)
                            await row.mark_lost(reason)
                            lost = exc
                        else:
                            await row.save_tokens(new)
                            token, expires_at = new.access_token, new.access_expires_at
            except Exception:
                # The database failed after Intuit answered: the answer may hold the only copy
                # of a rotated refresh token. Still under the in-process lock, save it anew.
                if new is None or not await self._save_late(company_id, sent, new):
                    raise
                token, expires_at = new.access_token, new.access_expires_at
        # The block above committed: the rotated refresh token is saved before use.
        if lost is not None:
            log.warning(
                "QuickBooks connection lost: the refresh token was refused",
                extra={"action": "qbo.connection.lost", "company_id": company_id},
            )
            raise lost
        self._cache[company_id] = (token, expires_at)
        return token

    async def _save_late(self, company_id: int, sent: str, new: TokenSet) -> bool:
        """Save `new` unless the stored refresh token moved on meanwhile (another process
        refreshed, or the commit went through after all); False if it could not be saved."""
        for wait in (0.0, *LATE_SAVE_WAITS):
            await asyncio.sleep(wait)
            try:
                async with self._store.locked(company_id) as row:
                    stored = row.connection
                    if (
                        stored is None
                        or stored.state is not StoredStatus.CONNECTED
                        or stored.tokens is None
                        or stored.tokens.refresh_token not in (sent, new.refresh_token)
                    ):
                        return False
                    await row.save_tokens(new)
            except Exception:  # noqa: S112 - the database is still away: try again
                continue
            log.warning(
                "QuickBooks tokens saved after the first commit failed",
                extra={"action": "qbo.tokens.saved_late", "company_id": company_id},
            )
            return True
        return False


class CompanyTokens:
    """One company's tokens, as `QboClient` needs them (`client.AccessTokens`)."""

    def __init__(self, manager: TokenManager, company_id: int) -> None:
        self._manager = manager
        self._company_id = company_id

    async def current(self) -> str:
        return await self._manager.current(self._company_id)

    async def refresh(self, rejected: str) -> str:
        return await self._manager.refresh(self._company_id, rejected=rejected)
