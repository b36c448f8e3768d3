"""Issue 12, the people service without a browser: Argon2 hashes, link expiry and single use,
session versions, the last owner, the rate limit across service instances (processes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from rentsync import bootstrap
from rentsync.domain.people import Ability, Role
from rentsync.people import passwords
from rentsync.people.service import (
    FAILURES_PER_EMAIL,
    Actor,
    PeopleError,
    PeopleService,
)
from rentsync.store.audit import AuditRepository
from rentsync.store.people import PeopleRepository

PASSWORD = "correct horse battery staple"


async def _company(services: bootstrap.Services, name: str = "Tent Co") -> Actor:
    company, _ = await services.companies.create(name)
    return Actor(company_id=company.id, label="test")


async def test_i12_passwords_are_argon2id_hashes(
    services: bootstrap.Services, database_url: str
) -> None:
    actor = await _company(services)
    await services.people.create_user(
        actor, email="Owner@Tent.Example ", name="Owner", role=Role.OWNER, password=PASSWORD
    )
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT email, password_hash FROM console_users").fetchone()
    assert row is not None
    assert row[0] == "owner@tent.example"
    assert row[1].startswith("$argon2id$") and PASSWORD not in row[1]
    assert await passwords.verify_password(row[1], PASSWORD)
    assert not await passwords.verify_password(row[1], PASSWORD + "!")
    assert not await passwords.verify_password(None, PASSWORD)
    signed = await services.people.sign_in("OWNER@tent.example", PASSWORD, client_ip="10.0.0.1")
    assert signed.user is not None and signed.user.email == "owner@tent.example"


async def test_i12_bad_user_input_is_refused_with_the_field(services: bootstrap.Services) -> None:
    actor = await _company(services)
    cases = [
        ({"email": "not-an-address"}, "email"),
        ({"name": "  "}, "name"),
        ({"password": "short"}, "password"),
    ]
    for change, field in cases:
        fields = {"email": "a@tent.example", "name": "A", "password": PASSWORD, **change}
        with pytest.raises(PeopleError) as refused:
            await services.people.create_user(actor, role=Role.VIEWER, **fields)
        assert refused.value.field == field
    await services.people.create_user(
        actor, email="a@tent.example", name="A", role=Role.VIEWER, password=PASSWORD
    )
    other = await _company(services, "Chair Co")
    with pytest.raises(PeopleError) as taken:
        await services.people.create_user(
            other, email="A@tent.example", name="A", role=Role.VIEWER, password=PASSWORD
        )
    assert taken.value.field == "email"
    assert await services.people.users(other.company_id) == []


async def test_i12_sign_in_link_expires_and_works_once(services: bootstrap.Services) -> None:
    actor = await _company(services)
    user = await services.people.create_user(
        actor, email="o@tent.example", name="O", role=Role.OWNER
    )
    token, expires_at = await services.people.mint_link(actor, "o@tent.example")
    assert timedelta(minutes=4) < expires_at - datetime.now(UTC) <= timedelta(minutes=5)
    assert (await services.people.redeem_link(token)) == user
    assert await services.people.redeem_link(token) is None
    # A link minted (by a clock) ten minutes ago has expired.
    earlier = PeopleService(
        PeopleRepository(services.pool),
        AuditRepository(services.pool),
        link_key=services.console_keys.signin_links,
        clock=lambda: datetime.now(UTC) - timedelta(minutes=10),
    )
    stale, _ = await earlier.mint_link(actor, "o@tent.example")
    assert await services.people.redeem_link(stale) is None
    # Only a keyed hash is stored, never the token.
    async with services.pool.connection() as conn:
        cursor = await conn.execute("SELECT token_hash FROM console_signin_links")
        stored = [bytes(r[0]) for r in await cursor.fetchall()]
    assert len(stored) == 2 and all(token.encode() not in s for s in stored)
    # Another key (another deployment's secret) cannot redeem this deployment's links.
    fresh, _ = await services.people.mint_link(actor, "o@tent.example")
    foreign = PeopleService(
        PeopleRepository(services.pool), AuditRepository(services.pool), link_key=b"x" * 32
    )
    assert await foreign.redeem_link(fresh) is None
    with pytest.raises(PeopleError):
        await services.people.mint_link(
            Actor(company_id=actor.company_id + 99, label="t"), "o@tent.example"
        )


async def test_i12_sessions_end_on_password_change_role_change_and_logout(
    services: bootstrap.Services,
) -> None:
    actor = await _company(services)
    people = services.people
    owner = await people.create_user(
        actor, email="o@tent.example", name="O", role=Role.OWNER, password=PASSWORD
    )
    clerk = await people.create_user(
        actor, email="c@tent.example", name="C", role=Role.BOOKKEEPER, password=PASSWORD
    )
    assert await people.session_user(clerk.id, clerk.session_version) == clerk
    await people.set_password(Actor.of(owner), clerk.id, "another long passphrase")
    assert await people.session_user(clerk.id, clerk.session_version) is None
    clerk = (await people.sign_in("c@tent.example", "another long passphrase", client_ip="x")).user
    assert clerk is not None and clerk.may(Ability.WORK) and not clerk.may(Ability.MANAGE_USERS)
    demoted = await people.update_user(
        Actor.of(owner), clerk.id, role=Role.VIEWER, view_qbo_logs=False, active=True
    )
    assert await people.session_user(clerk.id, clerk.session_version) is None
    assert not demoted.may(Ability.WORK)
    await people.sign_out(owner)
    assert await people.session_user(owner.id, owner.session_version) is None
    # The last active owner cannot be demoted or deactivated.
    with pytest.raises(PeopleError):
        await people.update_user(
            Actor.of(owner), owner.id, role=Role.VIEWER, view_qbo_logs=False, active=True
        )
    with pytest.raises(PeopleError):
        await people.update_user(
            Actor.of(owner), owner.id, role=Role.OWNER, view_qbo_logs=False, active=False
        )


async def test_i12_rate_limit_holds_across_processes(services: bootstrap.Services) -> None:
    """Failures are counted in PostgreSQL: another service instance (process) sees them."""
    actor = await _company(services)
    await services.people.create_user(
        actor, email="o@tent.example", name="O", role=Role.OWNER, password=PASSWORD
    )
    for _ in range(FAILURES_PER_EMAIL):
        assert (
            await services.people.sign_in("o@tent.example", "nope", client_ip="1.1.1.1")
        ).user is None
    other_process = PeopleService(
        PeopleRepository(services.pool),
        AuditRepository(services.pool),
        link_key=services.console_keys.signin_links,
    )
    refused = await other_process.sign_in("o@tent.example", PASSWORD, client_ip="2.2.2.2")
    assert refused.user is None and refused.throttled
    # Another address from the same client is not locked out by this one.
    await services.people.create_user(
        actor, email="b@tent.example", name="B", role=Role.VIEWER, password=PASSWORD
    )
    assert (await other_process.sign_in("b@tent.example", PASSWORD, client_ip="1.1.1.1")).user


async def test_i12_two_owners_demoting_each_other_at_once_leave_one_owner(
    services: bootstrap.Services,
) -> None:
    import asyncio

    actor = await _company(services)
    people = services.people
    first = await people.create_user(actor, email="a@tent.example", name="A", role=Role.OWNER)
    second = await people.create_user(actor, email="b@tent.example", name="B", role=Role.OWNER)
    for _ in range(5):
        results = await asyncio.gather(
            people.update_user(
                Actor.of(first), second.id, role=Role.VIEWER, view_qbo_logs=False, active=True
            ),
            people.update_user(
                Actor.of(second), first.id, role=Role.VIEWER, view_qbo_logs=False, active=True
            ),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, PeopleError)]
        assert len(refused) == 1 and refused[0].field == "role", results
        owners = [u for u in await people.users(actor.company_id) if u.role is Role.OWNER]
        assert len(owners) == 1
        # Both owners again for the next round.
        demoted = first if owners[0].id == second.id else second
        await people.update_user(
            Actor.of(owners[0]), demoted.id, role=Role.OWNER, view_qbo_logs=False, active=True
        )


async def test_i12_simultaneous_wrong_passwords_never_pass_the_limit(
    services: bootstrap.Services,
) -> None:
    """Twenty wrong passwords for one address at the same moment: only the limit's worth get a
    password check, the rest are refused unchecked; a right password afterwards is refused too,
    and a right password that got through earlier is not counted as a failure."""
    import asyncio

    actor = await _company(services)
    await services.people.create_user(
        actor, email="o@tent.example", name="O", role=Role.OWNER, password=PASSWORD
    )
    assert (await services.people.sign_in("o@tent.example", PASSWORD, client_ip="9.9.9.9")).user
    results = await asyncio.gather(
        *(
            services.people.sign_in("o@tent.example", f"wrong {n}", client_ip=f"10.0.0.{n}")
            for n in range(20)
        )
    )
    checked = [r for r in results if not r.throttled]
    assert len(checked) == FAILURES_PER_EMAIL
    assert all(r.user is None for r in results)
    refused = await services.people.sign_in("o@tent.example", PASSWORD, client_ip="9.9.9.9")
    assert refused.user is None and refused.throttled
