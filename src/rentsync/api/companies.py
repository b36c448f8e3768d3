"""GET /api/v1/company: which company an API key belongs to, and what it may do."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from rentsync.api.auth import CurrentPrincipal
from rentsync.api.deps import ServicesDep
from rentsync.api.schemas import error_responses

router = APIRouter(prefix="/api/v1", tags=["company"])


class CompanyOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    permissions: list[str]


@router.get("/company", response_model=CompanyOut, responses=error_responses(404))
async def read_company(principal: CurrentPrincipal, services: ServicesDep) -> CompanyOut:
    company = await services.companies.get(principal.company_id)
    if company is None:  # deleted while the key was in flight
        raise HTTPException(404, detail="company not found")
    return CompanyOut(
        id=company.id,
        name=company.name,
        created_at=company.created_at,
        permissions=sorted(p.value for p in principal.permissions),
    )
