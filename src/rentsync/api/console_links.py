"""One-time sign-in links to the web console, minted by the rental system for one of its
company's console users (so its own settings page can open the console without a second
password)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from rentsync.api.auth import CurrentPrincipal
from rentsync.api.deps import ServicesDep
from rentsync.api.schemas import error_responses
from rentsync.people.service import Actor, PeopleError

router = APIRouter(prefix="/api/v1", tags=["console"])


class SignInLinkIn(BaseModel):
    email: str = Field(min_length=3, max_length=320, description="The console user's e-mail.")
    next: str | None = Field(
        default=None,
        max_length=500,
        # A path of the console only: "/" then not a second "/" (//host is another site).
        pattern=r"^/([A-Za-z0-9._~!$&'()*+,;=:@%?-][A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$",
        description="A console page to open once signed in, e.g. `/settings/quickbooks`.",
        examples=["/settings/quickbooks"],
    )


class SignInLinkOut(BaseModel):
    url: str = Field(description="Open it in the user's browser; it works once.")
    expires_at: datetime


@router.post(
    "/console/sign-in-links",
    status_code=status.HTTP_201_CREATED,
    response_model=SignInLinkOut,
    responses=error_responses(404),
)
async def mint_sign_in_link(
    body: SignInLinkIn, request: Request, principal: CurrentPrincipal, services: ServicesDep
) -> SignInLinkOut:
    """A one-time link signing this user into the console: short-lived (5 minutes), single
    use; only a keyed hash of it is stored. 404 when the company has no active user with
    this e-mail address."""
    actor = Actor(company_id=principal.company_id, label=f"API key #{principal.api_key_id}")
    try:
        token, expires_at = await services.people.mint_link(actor, body.email)
    except PeopleError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=exc.message) from None
    url = f"{str(request.base_url).rstrip('/')}/signin/link/{token}"
    if body.next:
        url += "?" + urlencode({"next": body.next})
    return SignInLinkOut(url=url, expires_at=expires_at)
