"""Signing in (e-mail and password, rate-limited), the one-time sign-in link, signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from rentsync.api.deps import ServicesDep
from rentsync.people.service import FAILURE_WINDOW
from rentsync.web.auth import CurrentUser, OptionalUser, end_session, start_session
from rentsync.web.render import flash, render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only a path of this console (never another site: //host or a scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/signin")
async def signin_form(request: Request, user: OptionalUser, next: str = "/") -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "signin.html", None, {"next": safe_next(next), "email": ""})


@router.post("/signin")
async def signin(
    request: Request,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=4096)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    result = await services.people.sign_in(email, password, client_ip=_client_ip(request))
    if result.user is None:
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        error = (
            f"Too many failed sign-ins. Wait {minutes} minutes, or ask an owner to set a new "
            "password."
            if result.throttled
            else "The e-mail address or the password is not right."
        )
        return render(
            request,
            "signin.html",
            None,
            {"next": safe_next(next), "email": email, "error": error},
            status_code=429 if result.throttled else 401,
        )
    start_session(request, result.user)
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/signin/link/{token}")
async def link_form(request: Request, token: str, next: str = "/") -> Response:
    """The link opens a page with one button: a link preview or a mail scanner that fetches the
    URL does not use it up."""
    return render(request, "signin_link.html", None, {"token": token, "next": safe_next(next)})


@router.post("/signin/link/{token}")
async def link_signin(
    request: Request,
    token: str,
    services: ServicesDep,
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    user = await services.people.redeem_link(token)
    if user is None:
        return render(
            request,
            "error.html",
            None,
            {
                "title": "This sign-in link cannot be used",
                "message": "It has expired or was used already. Open the console again from "
                "your rental system, or sign in with your e-mail and password.",
                "signin_link": True,
            },
            status_code=400,
        )
    start_session(request, user)
    flash(request, f"Signed in as {user.email}.")
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    await services.people.sign_out(user)
    end_session(request)
    flash(request, "You are signed out.", "info")
    return RedirectResponse("/signin", status_code=303)
