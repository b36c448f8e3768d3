"""Connecting QuickBooks (R19): connect, Intuit's callback, status, disconnect.

`POST /api/v1/qbo/connect` gives the URL of Intuit's consent page (open it in a browser);
Intuit sends the browser back to `GET /qbo/callback` (no API key: the signed, single-use
`state` says which company it is for). Tokens never appear in any response.
"""

from __future__ import annotations

import html
import logging

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from rentsync.api.auth import CurrentPrincipal
from rentsync.api.deps import ServicesDep
from rentsync.api.schemas import error_responses
from rentsync.qbo import errors
from rentsync.qbo.connector import ConnectionStatus, InvalidState, NotConfigured

log = logging.getLogger(__name__)

router = APIRouter(tags=["quickbooks connection"])


class ConnectOut(BaseModel):
    authorize_url: str


@router.post("/api/v1/qbo/connect", response_model=ConnectOut, responses=error_responses(409, 502))
async def connect(principal: CurrentPrincipal, services: ServicesDep) -> ConnectOut:
    try:
        url = await services.qbo.start_connect(principal.company_id)
    except NotConfigured as exc:
        raise HTTPException(409, detail=str(exc)) from None
    except errors.QboError as exc:
        raise HTTPException(
            502, detail=f"QuickBooks could not be reached: {exc.plain}. Try again later."
        ) from None
    return ConnectOut(authorize_url=url)


# The connector's status value is the response body (FastAPI validates dataclasses too).
@router.get("/api/v1/qbo/connection", response_model=ConnectionStatus)
async def connection_status(principal: CurrentPrincipal, services: ServicesDep) -> ConnectionStatus:
    return await services.qbo.status(principal.company_id)


@router.delete(
    "/api/v1/qbo/connection", response_model=ConnectionStatus, responses=error_responses(502)
)
async def disconnect(principal: CurrentPrincipal, services: ServicesDep) -> ConnectionStatus:
    return await services.qbo.disconnect(principal.company_id)


def _page(title: str, text: str, status: int) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        "<p><a href='/settings/quickbooks'>Back to the rentsync console</a></p></body></html>"
    )
    return HTMLResponse(body, status_code=status)


@router.get("/qbo/callback", response_class=HTMLResponse, include_in_schema=False)
async def callback(
    services: ServicesDep,
    state: str = "",
    code: str = "",
    realmId: str = "",  # Intuit's parameter name
    error: str = "",
) -> HTMLResponse:
    if error:
        return _page(
            "QuickBooks was not connected",
            f"QuickBooks answered: {error}. Start again from rentsync if you want to connect.",
            400,
        )
    if not state or not code:
        return _page("QuickBooks was not connected", "The link is incomplete.", 400)
    try:
        status = await services.qbo.complete_connect(state=state, code=code, realm_id=realmId)
    except InvalidState as exc:
        return _page("QuickBooks was not connected", f"{exc}.", 400)
    except errors.QboError as exc:
        log.warning(
            "QuickBooks connect failed",
            extra={"action": "qbo.connect.failed", "error": type(exc).__name__},
        )
        return _page(
            "QuickBooks was not connected",
            f"QuickBooks refused the connection ({exc.code or type(exc).__name__}). "
            "Start again from rentsync.",
            502,
        )
    return _page(
        "QuickBooks connected",
        f"rentsync is now connected to {status.company_name or 'your QuickBooks company'}. "
        "You can close this window.",
        200,
    )
