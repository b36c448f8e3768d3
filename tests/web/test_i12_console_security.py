"""Issue 12, the console's foundation over HTTP (in process): sign-in, sessions, CSRF, roles,
companies kept apart, the sign-in link API, the audit."""

from __future__ import annotations

import httpx2

from rentsync.domain.people import Role
from tests.conftest import company_key
from tests.web.console_fixtures import (
    PASSWORD,
    add_user,
    csrf,
    form_post,
    sign_in,
    text_of,
)


def browser(api: httpx2.AsyncClient) -> httpx2.AsyncClient:
    """A second client on the same app: its own cookie jar, like another browser."""
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=api.app), base_url="http://rentsync.test"
    )


async def test_i12_pages_need_sign_in_and_sign_in_works(api: httpx2.AsyncClient) -> None:
    company = await company_key(api, "Tent Co")
    owner = await add_user(api, company.company_id, "Owner@Tent.example")
    async with browser(api) as b:
        first = await b.get("/settings/quickbooks")
        assert first.status_code == 303
        assert first.headers["location"] == "/signin?next=/settings/quickbooks"
        signed = await sign_in(b, owner)
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        cookie = signed.headers.get_list("set-cookie")
        session = next(c for c in cookie if c.startswith("rentsync_session="))
        assert "httponly" in session.lower() and "samesite=lax" in session.lower()
        page = await b.get("/settings/quickbooks")
        assert page.status_code == 200
        assert "Not connected" in text_of(page)
        assert "Connect to QuickBooks" in page.text


async def test_i12_wrong_password_is_refused_and_rate_limited(api: httpx2.AsyncClient) -> None:
    company = await company_key(api, "Tent Co")
    owner = await add_user(api, company.company_id, "owner@tent.example")
    async with browser(api) as b:
        await b.get("/signin")
        for _ in range(5):
            wrong = await b.post(
                "/signin",
                data={"email": owner.email, "password": "not it at all", "csrftoken": csrf(b)},
            )
            assert wrong.status_code == 401
            assert "not right" in text_of(wrong)
        # Now even the right password is refused without being checked.
        limited = await sign_in(b, owner)
        assert limited.status_code == 429
        assert "Too many failed sign-ins" in text_of(limited)
        assert "rentsync_session" not in limited.headers.get("set-cookie", "")


async def test_i12_forged_csrf_token_is_refused(api: httpx2.AsyncClient) -> None:
    company = await company_key(api, "Tent Co")
    owner = await add_user(api, company.company_id, "owner@tent.example")
    async with browser(api) as b:
        assert (await sign_in(b, owner)).status_code == 303
        forged = await b.post(
            "/users",
            data={
                "email": "new@tent.example",
                "name": "New",
                "role": "owner",
                "password": PASSWORD,
                "csrftoken": "forged",
            },
        )
        assert forged.status_code == 403
        missing = await b.post("/settings/tax-rates/sync")
        assert missing.status_code == 403
        people = await api.app.state.services.people.users(company.company_id)
        assert [p.email for p in people] == [owner.email]
        # The same request with the page's token (header, as htmx sends it) goes through.
        ok = await b.post(
            "/users",
            data={
                "email": "new@tent.example",
                "name": "New",
                "role": "viewer",
                "password": PASSWORD,
            },
            headers={"x-csrftoken": csrf(b)},
        )
        assert ok.status_code == 303


async def test_i12_viewer_changes_nothing(api: httpx2.AsyncClient) -> None:
    company = await company_key(api, "Tent Co")
    viewer = await add_user(api, company.company_id, "viewer@tent.example", Role.VIEWER)
    async with browser(api) as b:
        assert (await sign_in(b, viewer)).status_code == 303
        page = await b.get("/settings/quickbooks")
        assert page.status_code == 200
        assert "Connect to QuickBooks" not in page.text
        assert "Save settings" not in page.text
        taxes = await b.get("/settings/tax-rates")
        assert "Sync with QuickBooks" not in taxes.text
        for path in (
            "/settings/quickbooks/connect",
            "/settings/quickbooks/disconnect",
            "/settings/tax-rates/sync",
            "/settings/quickbooks/settings",
        ):
            refused = await form_post(b, path, {"sync_mode": "all_orders_and_quotes"})
            assert refused.status_code == 403, path
        assert (await b.get("/users")).status_code == 403
        assert (await b.get("/audit")).status_code == 403
    settings = await api.app.state.services.company_settings.current(company.company_id)
    assert settings.sync_mode.value == "orders_and_quotes_with_payment"


async def test_i12_one_company_never_sees_another(api: httpx2.AsyncClient) -> None:
    tents = await company_key(api, "Tent Co")
    chairs = await company_key(api, "Chair Co")
    tent_owner = await add_user(api, tents.company_id, "owner@tent.example")
    chair_owner = await add_user(api, chairs.company_id, "owner@chair.example")
    async with browser(api) as b:
        await sign_in(b, tent_owner)
        users = await b.get("/users")
        assert tent_owner.email in users.text and chair_owner.email not in users.text
        # Changing the other company's user by id is refused and changes nothing.
        other = await form_post(b, f"/users/{chair_owner.user_id}", {"role": "viewer"})
        assert other.status_code == 303
        again = await b.get("/users")
        assert "no such user in this company" in text_of(again)
        still = await api.app.state.services.people.users(chairs.company_id)
        assert still[0].role is Role.OWNER and still[0].active
        audit = await b.get("/audit")
        assert chair_owner.email not in audit.text
        home = await b.get("/")
        assert "Tent Co" in home.text and "Chair Co" not in home.text


async def test_i12_logout_and_password_change_end_sessions(api: httpx2.AsyncClient) -> None:
    company = await company_key(api, "Tent Co")
    owner = await add_user(api, company.company_id, "owner@tent.example")
    async with browser(api) as laptop, browser(api) as phone:
        await sign_in(laptop, owner)
        await sign_in(phone, owner)
        stolen = dict(phone.cookies)
        changed = await form_post(
            laptop,
            "/account/password",
            {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        )
        assert changed.status_code == 303
        assert (await laptop.get("/account")).status_code == 200  # this browser goes on
        assert (await phone.get("/account")).status_code == 303  # the other is signed out
        await form_post(laptop, "/logout")
        assert (await laptop.get("/account")).status_code == 303
    async with browser(api) as replay:
        for name, value in stolen.items():
            replay.cookies.set(name, value)
        assert (await replay.get("/account")).status_code == 303


async def test_i12_sign_in_link_works_once(api: httpx2.AsyncClient) -> None:
    tents = await company_key(api, "Tent Co")
    chairs = await company_key(api, "Chair Co")
    owner = await add_user(api, tents.company_id, "owner@tent.example")
    await add_user(api, chairs.company_id, "owner@chair.example")
    minted = await api.post(
        "/api/v1/console/sign-in-links", json={"email": owner.email}, headers=tents.headers
    )
    assert minted.status_code == 201, minted.text
    url = minted.json()["url"]
    assert url.startswith("http://rentsync.test/signin/link/")
    # Another company's key cannot mint a link for this user.
    foreign = await api.post(
        "/api/v1/console/sign-in-links", json={"email": owner.email}, headers=chairs.headers
    )
    assert foreign.status_code == 404 and "detail" in foreign.json()
    assert (
        await api.post("/api/v1/console/sign-in-links", json={"email": owner.email})
    ).status_code == 401
    path = url.removeprefix("http://rentsync.test")
    async with browser(api) as b:
        landing = await b.get(path)
        assert landing.status_code == 200 and "Continue" in landing.text
        used = await form_post(b, path)
        assert used.status_code == 303 and used.headers["location"] == "/"
        assert (await b.get("/account")).status_code == 200
    async with browser(api) as again:
        await again.get(path)
        refused = await form_post(again, path)
        assert refused.status_code == 400
        assert "expired or was used already" in text_of(refused)
        assert (await again.get("/account")).status_code == 303


async def test_i12_console_actions_are_audited(api: httpx2.AsyncClient) -> None:
    company = await company_key(api, "Tent Co")
    owner = await add_user(api, company.company_id, "owner@tent.example")
    async with browser(api) as b:
        await sign_in(b, owner)
        await form_post(
            b,
            "/users",
            {
                "email": "clerk@tent.example",
                "name": "Clerk",
                "role": "bookkeeper",
                "password": PASSWORD,
            },
        )
        audit = await b.get("/audit")
        text = text_of(audit)
        assert "user.created" in text and "clerk@tent.example" in text
        assert "session.signed_in" in text


async def test_i12_a_form_that_is_not_utf8_is_a_400(api: httpx2.AsyncClient) -> None:
    company = await company_key(api, "Tent Co")
    owner = await add_user(api, company.company_id, "owner@tent.example")
    async with browser(api) as b:
        await sign_in(b, owner)
        bad = await b.post(
            "/users",
            content=b"email=\xff\xfe&csrftoken=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert bad.status_code == 400
        bad_signin = await b.post(
            "/signin",
            content=b"email=\xff&password=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert bad_signin.status_code == 400


def test_i12_cookies_are_secure_outside_localhost() -> None:
    from rentsync.web.security import secure_cookies

    for local in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert secure_cookies(local) is False, local
    for served in ("0.0.0.0", "10.1.2.3", "console.example.com", "::"):
        assert secure_cookies(served) is True, served


def test_i12_sign_in_link_tokens_never_reach_the_log() -> None:
    import logging

    from rentsync.logs import RedactSecrets

    token = "AbC-123_xyzAbC-123_xyzAbC-123_xyzAbC-123_x"
    record = logging.makeLogRecord(
        {
            "msg": '%s - "%s %s HTTP/1.1" %d',
            "args": ("127.0.0.1", "GET", f"/signin/link/{token}", 200),
        }
    )
    RedactSecrets().filter(record)
    assert token not in record.getMessage()
    assert "/signin/link/[redacted]" in record.getMessage()


async def test_i12_cookies_are_secure_when_the_request_came_over_https(
    api: httpx2.AsyncClient,
) -> None:
    """Behind a TLS proxy on a loopback address (uvicorn sets the scheme from the proxy)."""
    company = await company_key(api, "Tent Co")
    owner = await add_user(api, company.company_id, "owner@tent.example")
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=api.app), base_url="https://rentsync.test"
    ) as tls:
        signed = await sign_in(tls, owner)
        cookies = signed.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("rentsync_session="))
        assert "secure" in session.lower()
    async with browser(api) as plain:
        page = await plain.get("/signin")
        csrf_cookie = next(
            c for c in page.headers.get_list("set-cookie") if c.startswith("csrftoken=")
        )
        assert "secure" not in csrf_cookie.lower()


async def _raw(client: httpx2.AsyncClient, path: str, body: str) -> httpx2.Response:
    """A form body as given (percent-escapes kept: what a hostile client can send)."""
    return await client.post(
        path,
        content=f"{body}&csrftoken={csrf(client)}".encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


NUL = "%00"
SURROGATE = "%ED%A0%80"  # the UTF-8-like bytes of U+D800: not UTF-8


async def test_i12_hostile_form_input_is_refused_never_a_500(api: httpx2.AsyncClient) -> None:
    """NUL (PostgreSQL refuses it in text), the bytes of a lone surrogate, huge ids: a clear
    refusal, nothing stored."""
    company = await company_key(api, "Tent Co")
    owner = await add_user(api, company.company_id, "owner@tent.example")
    async with browser(api) as b:
        await b.get("/signin")
        for body in (
            f"email=a{NUL}b@x.com&password=p{NUL}",
            f"email=o@x.com&password=p{SURROGATE}",
            f"email={SURROGATE}&password=x",
        ):
            refused = await _raw(b, "/signin", body)
            assert refused.status_code == 401, (body, refused.text)
        await sign_in(b, owner)
        good = f"role=viewer&password={PASSWORD.replace(' ', '+')}"
        for body, expected in (
            (f"email=n{NUL}@tent.example&name=N&{good}", 422),
            (f"email=n1@tent.example&name=x{NUL}y&{good}", 422),
            # Bytes that are not UTF-8 are read as U+FFFD, as a browser would show them.
            (f"email=n2@tent.example&name=x{SURROGATE}y&{good}", 303),
            (f"email=n3@tent.example&name=N&role=viewer&password=long+enough+{NUL}+pass", 303),
            ("email=n4@tent.example&name=M&role=boss&password=x", 422),
        ):
            answered = await _raw(b, "/users", body)
            assert answered.status_code == expected, (body, answered.text)
        people = {
            p.email: p.name for p in await api.app.state.services.people.users(company.company_id)
        }
        assert set(people) == {owner.email, "n2@tent.example", "n3@tent.example"}
        assert people["n2@tent.example"] == "x\ufffd\ufffd\ufffdy"
        huge = await form_post(b, "/users/99999999999999999999999", {"role": "viewer"})
        assert huge.status_code in {303, 422}
        assert (await b.get("/audit?before=99999999999999999999999")).status_code == 422
        wrong = await _raw(b, "/account/password", f"current_password={SURROGATE}&new_password=y")
        assert wrong.status_code == 422
        mode = await _raw(b, "/settings/quickbooks/settings", f"sync_mode=x{NUL}")
        assert mode.status_code == 303


async def test_i12_sign_in_link_can_open_a_given_console_page(api: httpx2.AsyncClient) -> None:
    company = await company_key(api, "Tent Co")
    owner = await add_user(api, company.company_id, "owner@tent.example")
    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil", "settings"):
        refused = await api.post(
            "/api/v1/console/sign-in-links",
            json={"email": owner.email, "next": hostile},
            headers=company.headers,
        )
        assert refused.status_code == 422, hostile
        assert refused.json()["detail"][0]["loc"] == ["body", "next"]
    minted = await api.post(
        "/api/v1/console/sign-in-links",
        json={"email": owner.email, "next": "/settings/tax-rates"},
        headers=company.headers,
    )
    assert minted.status_code == 201
    path = minted.json()["url"].removeprefix("http://rentsync.test")
    assert path.endswith("?next=%2Fsettings%2Ftax-rates")
    async with browser(api) as b:
        landing = await b.get(path)
        assert 'name="next" value="/settings/tax-rates"' in landing.text
        token_path = path.split("?")[0]
        used = await form_post(b, token_path, {"next": "/settings/tax-rates"})
        assert used.status_code == 303 and used.headers["location"] == "/settings/tax-rates"


async def test_i12_console_pages_cannot_be_framed_or_leak_the_link(api: httpx2.AsyncClient) -> None:
    async with browser(api) as b:
        for path in ("/signin", "/signin/link/" + "a" * 43):
            page = await b.get(path)
            csp = page.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src" not in csp
            assert "default-src 'self'" in csp
            assert page.headers["x-frame-options"] == "DENY"
            assert page.headers["referrer-policy"] == "no-referrer"
            assert page.headers["cache-control"] == "no-store"
    # The API and its Swagger pages keep their own headers.
    health = await api.get("/health")
    assert "content-security-policy" not in health.headers
    docs = await api.get("/docs")
    assert "x-frame-options" not in docs.headers
