"""API authentication: every /api/v1 call carries a company API key and sees only that company."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rentsync.api.deps import ServicesDep
from rentsync.domain.access import Permission, Principal

_bearer = HTTPBearer(
    auto_error=False,
    description="A company API key (`rentsync company create`): `Authorization: Bearer <key>`.",
)


async def current_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await services.companies.authenticate(credentials.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="unknown, revoked or expired API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Any:
    """A dependency that refuses callers whose key lacks `permission` (403)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.may(permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this API key lacks the permission {permission.value!r}",
            )
        return principal

    return Depends(check)
