"""Sync settings (R10, R11), the chart of accounts for the mapping, and tax rates (R8)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from rentsync.api.auth import CurrentPrincipal
from rentsync.api.deps import ServicesDep
from rentsync.api.schemas import error_responses
from rentsync.domain.settings import SyncSettings
from rentsync.store.sync_settings import TaxRateLike
from rentsync.sync import settings_service

router = APIRouter(prefix="/api/v1", tags=["settings"])
_QBO_ERRORS = error_responses(409, 502)


@contextlib.contextmanager
def _connected() -> Iterator[None]:
    try:
        yield
    except settings_service.QuickBooksNotConnected:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="QuickBooks is not connected: connect it first (POST /api/v1/qbo/connect)",
        ) from None


@router.get("/settings", response_model=SyncSettings)
async def read_settings(principal: CurrentPrincipal, services: ServicesDep) -> SyncSettings:
    return await services.company_settings.current(principal.company_id)


@router.put("/settings", response_model=SyncSettings, responses=_QBO_ERRORS)
async def save_settings(
    body: SyncSettings, principal: CurrentPrincipal, services: ServicesDep
) -> SyncSettings:
    """Save the sync mode and account mapping. Every mapped account must exist, be active and
    have a type its role allows in the connected QuickBooks company (422 names each one)."""
    try:
        with _connected():
            return await services.company_settings.save(principal.company_id, body)
    except settings_service.MappingRejected as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {"loc": ["body", "accounts", role], "msg": message, "type": "value_error"}
                for role, message in exc.problems.items()
            ],
        ) from None


class AccountOut(BaseModel):
    id: str
    name: str
    account_type: str
    account_sub_type: str
    active: bool


@router.get("/qbo/accounts", response_model=list[AccountOut], responses=_QBO_ERRORS)
async def chart_of_accounts(principal: CurrentPrincipal, services: ServicesDep) -> list[AccountOut]:
    """The connected company's chart of accounts (for the account-mapping dropdowns)."""
    with _connected():
        accounts = await services.company_settings.accounts(principal.company_id)
    return [AccountOut(**vars(account)) for account in accounts]


class TaxRateOut(BaseModel):
    id: str
    name: str
    rate_percent: Decimal
    active: bool
    synced_at: datetime


def _tax_rates_out(rates: Sequence[TaxRateLike]) -> list[TaxRateOut]:
    return [
        TaxRateOut(
            id=r.qbo_id,
            name=r.name,
            rate_percent=r.rate_percent,
            active=r.active,
            synced_at=r.synced_at,
        )
        for r in rates
    ]


@router.get("/tax-rates", response_model=list[TaxRateOut])
async def tax_rates(principal: CurrentPrincipal, services: ServicesDep) -> list[TaxRateOut]:
    """Tax rates pulled from QuickBooks; an order names one by `id` in `tax_rate_id`."""
    return _tax_rates_out(await services.company_settings.tax_rates(principal.company_id))


@router.post("/tax-rates/sync", response_model=list[TaxRateOut], responses=_QBO_ERRORS)
async def sync_tax_rates(principal: CurrentPrincipal, services: ServicesDep) -> list[TaxRateOut]:
    """Sync with QuickBooks: replace the stored tax rates with QuickBooks' current ones, and
    re-read the company's tax and inventory settings (automated sales tax may have been
    switched on since connecting)."""
    with _connected():
        pulled = await services.company_settings.sync_tax_rates(principal.company_id)
    return _tax_rates_out(pulled)
