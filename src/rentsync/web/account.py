"""The signed-in user's own account: their details and a new password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from rentsync.api.deps import ServicesDep
from rentsync.people.service import PeopleError
from rentsync.web.auth import CurrentUser, start_session
from rentsync.web.render import flash, render

router = APIRouter(include_in_schema=False)


@router.get("/account")
async def account(request: Request, user: CurrentUser) -> Response:
    return render(request, "account.html", user)


@router.post("/account/password")
async def change_password(
    request: Request,
    user: CurrentUser,
    services: ServicesDep,
    current_password: Annotated[str, Form(max_length=4096)],
    new_password: Annotated[str, Form(max_length=4096)],
) -> Response:
    try:
        await services.people.change_own_password(user, current_password, new_password)
    except PeopleError as exc:
        return render(
            request, "account.html", user, {"errors": {exc.field: exc.message}}, status_code=422
        )
    fresh = await services.people.session_user(user.id, user.session_version + 1)
    if fresh is not None:
        start_session(request, fresh)
    flash(request, "Password changed. Every other session of yours is signed out.")
    return RedirectResponse("/account", status_code=303)
