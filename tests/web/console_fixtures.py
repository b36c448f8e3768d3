"""Helpers for the console's HTTP tests: users, a signed-in browser-like client, CSRF."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import httpx2

from rentsync import bootstrap
from rentsync.domain.people import Role
from rentsync.people.service import Actor

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    company_id: int
    email: str
    user_id: int
    password: str = PASSWORD


async def add_user(
    api: httpx2.AsyncClient | bootstrap.Services,
    company_id: int,
    email: str,
    role: Role = Role.OWNER,
    *,
    view_qbo_logs: bool = False,
) -> Person:
    """`api`: the in-process API client (its app's services), or the services themselves."""
    services = api if isinstance(api, bootstrap.Services) else api.app.state.services
    user = await services.people.create_user(
        Actor(company_id=company_id, label="test"),
        email=email,
        name=email.split("@")[0].title(),
        role=role,
        view_qbo_logs=view_qbo_logs,
        password=PASSWORD,
    )
    return Person(company_id=company_id, email=user.email, user_id=user.id)


def csrf(client: httpx2.AsyncClient) -> str:
    """The CSRF token of this client (the signed cookie, as the page's forms carry it)."""
    token = client.cookies.get("csrftoken")
    assert token, "no CSRF cookie yet: GET a console page first"
    return token


async def sign_in(client: httpx2.AsyncClient, person: Person) -> httpx2.Response:
    page = await client.get("/signin")
    assert page.status_code == 200, page.text
    return await client.post(
        "/signin",
        data={"email": person.email, "password": person.password, "csrftoken": csrf(client)},
    )


async def form_post(
    client: httpx2.AsyncClient, path: str, data: dict[str, str] | None = None
) -> httpx2.Response:
    return await client.post(path, data={**(data or {}), "csrftoken": csrf(client)})


def text_of(page: httpx2.Response) -> str:
    """The page's visible text, roughly (tags dropped, spaces squeezed)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)))
