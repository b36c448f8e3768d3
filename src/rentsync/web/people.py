"""Users of the company and the audit: owners only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from rentsync.api.deps import ServicesDep
from rentsync.domain.people import Ability, ConsoleUser, Role
from rentsync.people.service import Actor, PeopleError
from rentsync.web.actions import ACTION_LABELS
from rentsync.web.auth import requires
from rentsync.web.render import flash, render

router = APIRouter(include_in_schema=False)
Owner = Annotated[ConsoleUser, requires(Ability.MANAGE_USERS)]
Auditor = Annotated[ConsoleUser, requires(Ability.READ_AUDIT)]


@router.get("/users")
async def users(request: Request, user: Owner, services: ServicesDep) -> Response:
    return render(
        request,
        "users.html",
        user,
        {"people": await services.people.users(user.company_id), "roles": list(Role), "form": {}},
    )


@router.post("/users")
async def create_user(
    request: Request,
    user: Owner,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=320)],
    name: Annotated[str, Form(max_length=200)],
    role: Annotated[Role, Form()],
    password: Annotated[str, Form(max_length=4096)],
    view_qbo_logs: Annotated[bool, Form()] = False,
) -> Response:
    try:
        created = await services.people.create_user(
            Actor.of(user),
            email=email,
            name=name,
            role=role,
            view_qbo_logs=view_qbo_logs,
            password=password,
        )
    except PeopleError as exc:
        return render(
            request,
            "users.html",
            user,
            {
                "people": await services.people.users(user.company_id),
                "roles": list(Role),
                "errors": {exc.field: exc.message},
                "form": {"email": email, "name": name, "role": role.value},
            },
            status_code=422,
        )
    flash(request, f"{created.email} can now sign in as {created.role.value}.")
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}")
async def update_user(
    request: Request,
    user_id: int,
    user: Owner,
    services: ServicesDep,
    role: Annotated[Role, Form()],
    view_qbo_logs: Annotated[bool, Form()] = False,
    active: Annotated[bool, Form()] = False,
) -> Response:
    try:
        updated = await services.people.update_user(
            Actor.of(user), user_id, role=role, view_qbo_logs=view_qbo_logs, active=active
        )
    except PeopleError as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, f"{updated.email} saved.")
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}/password")
async def set_password(
    request: Request,
    user_id: int,
    user: Owner,
    services: ServicesDep,
    password: Annotated[str, Form(max_length=4096)],
) -> Response:
    try:
        await services.people.set_password(Actor.of(user), user_id, password)
    except PeopleError as exc:
        flash(request, f"Password not set: {exc.message}.", "error")
    else:
        flash(request, "Password set; that user's sessions are signed out.")
    return RedirectResponse("/users", status_code=303)


@router.get("/audit")
async def audit(
    request: Request,
    user: Auditor,
    services: ServicesDep,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    entries = await services.audit.of_company(user.company_id, limit=100, before_id=before)
    return render(
        request,
        "audit.html",
        user,
        {
            "entries": entries,
            "labels": ACTION_LABELS,
            "older": entries[-1].id if len(entries) == 100 else None,
        },
    )
