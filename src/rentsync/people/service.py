"""Users, sign-in and one-time sign-in links: the decisions, in one place.

- Sign-in is refused without checking the password after `FAILURES_PER_EMAIL` failures for one
  address or `FAILURES_PER_CLIENT` from one client address within `FAILURE_WINDOW`; failures
  are stored in PostgreSQL, so the limit holds across processes and restarts. Each attempt is
  counted before its password is checked (and forgiven when right), so simultaneous attempts
  cannot go past the limit.
- A sign-in link's token is 256 random bits; only its HMAC-SHA256 under a key derived from the
  secret key is stored. It works once, within `LINK_LIFETIME`.
- A session names the user and their session version; changing the password, the role, or
  deactivating the user moves the version on, which ends every session of theirs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rentsync.domain.people import (
    ConsoleUser,
    Role,
    normalize_email,
    password_problem,
    text_problem,
)
from rentsync.people import passwords
from rentsync.store.audit import AuditRepository
from rentsync.store.people import EmailTaken, LastOwner, PeopleRepository

FAILURES_PER_EMAIL = 5
FAILURES_PER_CLIENT = 20
FAILURE_WINDOW = timedelta(minutes=15)
LINK_LIFETIME = timedelta(minutes=5)
MALFORMED_EMAIL = "(malformed)"
_TOKEN_ALPHABET_LENGTH = 43  # secrets.token_urlsafe(32)


class PeopleError(ValueError):
    """A request about users cannot be done; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class SignIn:
    user: ConsoleUser | None
    throttled: bool = False


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who does something, for the audit: a console user, the CLI or an API key."""

    company_id: int
    label: str
    user_id: int | None = None

    @classmethod
    def of(cls, user: ConsoleUser) -> Actor:
        return cls(company_id=user.company_id, label=user.email, user_id=user.id)


class PeopleService:
    def __init__(
        self,
        repository: PeopleRepository,
        audit: AuditRepository,
        *,
        link_key: bytes,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repository
        self._audit = audit
        self._link_key = link_key
        self._clock = clock

    async def record(
        self,
        actor: Actor,
        action: str,
        target: str = "",
        detail: dict[str, object] | None = None,
    ) -> None:
        """The one way a console, CLI or API action about the console is audited."""
        await self._audit.record(
            company_id=actor.company_id,
            user_id=actor.user_id,
            actor=actor.label,
            action=action,
            target=target,
            detail=dict(detail or {}),
        )

    async def create_user(
        self,
        actor: Actor,
        *,
        email: str,
        name: str,
        role: Role,
        view_qbo_logs: bool = False,
        password: str | None = None,
    ) -> ConsoleUser:
        try:
            address = normalize_email(email)
        except ValueError as exc:
            raise PeopleError("email", str(exc)) from None
        if not name.strip():
            raise PeopleError("name", "enter the person's name")
        if problem := text_problem(name):
            raise PeopleError("name", problem)
        password_hash = None
        if password is not None:
            problem = password_problem(password)
            if problem:
                raise PeopleError("password", problem)
            password_hash = await passwords.hash_password(password)
        try:
            user = await self._repo.create(
                company_id=actor.company_id,
                email=address,
                name=name.strip(),
                role=role,
                view_qbo_logs=view_qbo_logs,
                password_hash=password_hash,
            )
        except EmailTaken as exc:
            raise PeopleError("email", str(exc)) from None
        await self.record(
            actor,
            "user.created",
            user.email,
            {"role": role.value, "view_qbo_logs": view_qbo_logs},
        )
        return user

    async def update_user(
        self, actor: Actor, user_id: int, *, role: Role, view_qbo_logs: bool, active: bool
    ) -> ConsoleUser:
        """Change a user of the actor's company. The company keeps at least one active owner;
        a new role or deactivation ends the user's sessions."""
        current = await self._repo.in_company(actor.company_id, user_id)
        if current is None:
            raise PeopleError("user", "no such user in this company")
        try:
            updated = await self._repo.update(
                user_id,
                role=role,
                view_qbo_logs=view_qbo_logs,
                active=active,
                end_sessions=role is not current.role or not active,
            )
        except LastOwner as exc:
            raise PeopleError("role", str(exc)) from None
        assert updated is not None
        await self.record(
            actor,
            "user.updated",
            updated.email,
            {"role": role.value, "view_qbo_logs": view_qbo_logs, "active": active},
        )
        return updated

    async def set_password(self, actor: Actor, user_id: int, password: str) -> None:
        """Set a user's password (their own, or an owner for someone of the company); every
        session of that user ends."""
        user = await self._repo.in_company(actor.company_id, user_id)
        if user is None:
            raise PeopleError("user", "no such user in this company")
        problem = password_problem(password)
        if problem:
            raise PeopleError("password", problem)
        await self._repo.set_password_hash(user_id, await passwords.hash_password(password))
        await self.record(actor, "user.password_set", user.email)

    async def change_own_password(self, user: ConsoleUser, current: str, new: str) -> None:
        """The user's own new password, after the current one; every session ends (the
        console starts a new one for the browser that asked)."""
        found = await self._repo.by_email(user.email)
        stored = found[1] if found is not None else None
        if not await passwords.verify_password(stored, current[:4096]):
            raise PeopleError("current_password", "the current password is not right")
        await self.set_password(Actor.of(user), user.id, new)

    async def users(self, company_id: int) -> list[ConsoleUser]:
        return await self._repo.of_company(company_id)

    async def sign_in(self, email: str, password: str, *, client_ip: str) -> SignIn:
        try:
            address = normalize_email(email)
        except ValueError:
            address = MALFORMED_EMAIL  # no user has it; counted like any wrong address
        attempt = await self._repo.claim_attempt(
            address,
            client_ip,
            FAILURE_WINDOW,
            per_email=FAILURES_PER_EMAIL,
            per_client=FAILURES_PER_CLIENT,
        )
        if attempt is None:
            return SignIn(None, throttled=True)
        found = await self._repo.by_email(address)
        user, stored = found if found is not None else (None, None)
        ok = await passwords.verify_password(stored, password[:4096])
        if not ok or user is None or not user.active:
            return SignIn(None)  # the claimed attempt stays counted as a failure
        assert stored is not None
        await self._repo.forgive(attempt)
        if passwords.needs_rehash(stored):
            await self._repo.rehash(user.id, stored, await passwords.hash_password(password))
        await self.record(Actor.of(user), "session.signed_in", user.email, {"by": "password"})
        return SignIn(user)

    async def sign_out(self, user: ConsoleUser) -> None:
        """End this user's sessions everywhere (the cookie alone could be replayed)."""
        await self._repo.end_sessions(user.id)
        await self.record(Actor.of(user), "session.signed_out", user.email)

    async def session_user(self, user_id: int, session_version: int) -> ConsoleUser | None:
        """The user a session cookie stands for, while that session is still valid."""
        user = await self._repo.get(user_id)
        if user is None or not user.active or user.session_version != session_version:
            return None
        return user

    def _token_hash(self, token: str) -> bytes:
        return hmac.new(self._link_key, token.encode(), hashlib.sha256).digest()

    async def mint_link(self, actor: Actor, email: str) -> tuple[str, datetime]:
        """A one-time sign-in token for a user of the actor's company, and when it expires."""
        try:
            address = normalize_email(email)
        except ValueError as exc:
            raise PeopleError("email", str(exc)) from None
        found = await self._repo.by_email(address)
        if found is None or found[0].company_id != actor.company_id or not found[0].active:
            raise PeopleError("email", "no active user of this company has this e-mail address")
        token = secrets.token_urlsafe(32)
        expires_at = self._clock() + LINK_LIFETIME
        await self._repo.add_link(found[0].id, self._token_hash(token), expires_at)
        await self.record(actor, "signin_link.minted", address)
        return token, expires_at

    async def redeem_link(self, token: str) -> ConsoleUser | None:
        """The link's user, the first time only and before it expires; else None."""
        if len(token) != _TOKEN_ALPHABET_LENGTH:
            return None
        user_id = await self._repo.use_link(self._token_hash(token))
        user = None if user_id is None else await self._repo.get(user_id)
        if user is None or not user.active:
            return None
        await self.record(Actor.of(user), "session.signed_in", user.email, {"by": "link"})
        return user
