"""The console's home page. A placeholder until the dashboard (console-screens) replaces it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rentsync.api.deps import ServicesDep
from rentsync.web.auth import CurrentUser
from rentsync.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    company = await services.companies.get(user.company_id)
    status = await services.qbo.status(user.company_id)
    return render(
        request,
        "home.html",
        user,
        {"company": company, "status": status},
    )
