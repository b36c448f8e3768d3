"""A company's API keys: list them (with their last use and expiry), issue one, revoke one.

A key issued here carries at most the caller's own permissions, never `run_diagnostics` (an
operator's, granted by the CLI only); its secret is shown once. Revocation takes effect at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from rentsync.api.auth import CurrentPrincipal
from rentsync.api.deps import ServicesDep
from rentsync.api.schemas import error_responses
from rentsync.domain.access import Permission
from rentsync.domain.values import MAX_VERSION
from rentsync.store.companies import ApiKeyInfo

router = APIRouter(prefix="/api/v1/api-keys", tags=["company"])

MAX_DAYS = 3650


class ApiKeyOut(BaseModel):
    id: int
    prefix: str = Field(description="The key's public part: `rsk_<prefix>_...`.")
    permissions: list[str]
    state: str = Field(description="active, expired or revoked.")
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="The last request made with it (to the minute); null if never used."
    )
    expires_at: datetime | None = Field(description="Null: it does not expire.")
    revoked_at: datetime | None
    current: bool = Field(description="The key of this very request.")


class NewKey(BaseModel):
    permissions: list[Permission] = Field(
        default_factory=list, description="A subset of the calling key's permissions."
    )
    expires_in_days: int | None = Field(
        default=None, ge=1, le=MAX_DAYS, description="Null: the key does not expire."
    )


class IssuedKeyOut(BaseModel):
    key: str = Field(description="Shown once: only its hash is kept.")
    details: ApiKeyOut


def _out(info: ApiKeyInfo, current_id: int) -> ApiKeyOut:
    return ApiKeyOut(
        id=info.id,
        prefix=info.prefix,
        permissions=info.permissions,
        state=info.state(datetime.now(UTC)),
        created_at=info.created_at,
        last_used_at=info.last_used_at,
        expires_at=info.expires_at,
        revoked_at=info.revoked_at,
        current=info.id == current_id,
    )


@router.get("", response_model=list[ApiKeyOut])
async def list_keys(principal: CurrentPrincipal, services: ServicesDep) -> list[ApiKeyOut]:
    """This company's API keys, newest first, with their last use, expiry and state."""
    keys = await services.companies.keys(principal.company_id)
    return [_out(info, principal.api_key_id) for info in keys]


@router.post(
    "",
    response_model=IssuedKeyOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403),
)
async def issue_key(
    body: NewKey, principal: CurrentPrincipal, services: ServicesDep
) -> IssuedKeyOut:
    """Issue another key for this company (e.g. to rotate one, then revoke the old)."""
    wanted = frozenset(body.permissions)
    beyond = sorted(
        p.value for p in wanted if not principal.may(p) or p is Permission.RUN_DIAGNOSTICS
    )
    if beyond:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"this API key cannot grant {', '.join(beyond)}",
        )
    expires_at = (
        None
        if body.expires_in_days is None
        else datetime.now(UTC) + timedelta(days=body.expires_in_days)
    )
    issued = await services.companies.issue_key(
        principal.company_id, permissions=wanted, expires_at=expires_at
    )
    (info,) = [k for k in await services.companies.keys(principal.company_id) if k.id == issued.id]
    return IssuedKeyOut(key=issued.key, details=_out(info, principal.api_key_id))


@router.delete("/{key_id}", response_model=ApiKeyOut, responses=error_responses(404, 409))
async def revoke_key(
    key_id: Annotated[int, Path(ge=1, le=MAX_VERSION)],
    principal: CurrentPrincipal,
    services: ServicesDep,
) -> ApiKeyOut:
    """Revoke one of this company's keys; requests with it are refused from now on. Not the
    key of this very request (409): revoke it with another key, or the CLI."""
    if key_id == principal.api_key_id:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="this is the key of this request: revoke it with another key (or the CLI)",
        )
    info = await services.companies.revoke_key(principal.company_id, key_id)
    if info is None:
        raise HTTPException(404, detail=f"this company has no API key {key_id}")
    return _out(info, principal.api_key_id)
