"""Sync settings (R10, R11), the chart of accounts for the mapping, and tax rates (R8)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from rentsync.api.auth import CurrentPrincipal
from rentsync.api.deps import ServicesDep
from rentsync.api.schemas import error_responses
from rentsync.bootstrap import Services
from rentsync.domain.settings import SyncSettings
from rentsync.store.sync_settings import TaxRateLike
from rentsync.sync import company_setup
from rentsync.sync.ports import QboGateway

router = APIRouter(prefix="/api/v1", tags=["settings"])
_QBO_ERRORS = error_responses(409, 502)


async def _connected_client(services: Services, company_id: int) -> QboGateway:
    company = await services.qbo_access.open(company_id)
    if company.client is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="QuickBooks is not connected: connect it first (POST /api/v1/qbo/connect)",
        )
    return company.client


@router.get("/settings", response_model=SyncSettings)
async def read_settings(principal: CurrentPrincipal, services: ServicesDep) -> SyncSettings:
    return await services.sync_settings.get(principal.company_id)


@router.put("/settings", response_model=SyncSettings, responses=_QBO_ERRORS)
async def save_settings(
    body: SyncSettings, principal: CurrentPrincipal, services: ServicesDep
) -> SyncSettings:
    """Save the sync mode and account mapping. Every mapped account must exist, be active and
    have a type its role allows in the connected QuickBooks company (422 names each one)."""
    mapped = any(body.accounts.model_dump().values())
    if mapped:
        client = await _connected_client(services, principal.company_id)
        accounts = await company_setup.chart_of_accounts(client)
        problems = company_setup.mapping_problems(body.accounts, accounts)
        if problems:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=[
                    {"loc": ["body", "accounts", role], "msg": message, "type": "value_error"}
                    for role, message in problems.items()
                ],
            )
    await services.sync_settings.put(principal.company_id, body)
    return body


class AccountOut(BaseModel):
    id: str
    name: str
    account_type: str
    account_sub_type: str
    active: bool


@router.get("/qbo/accounts", response_model=list[AccountOut], responses=_QBO_ERRORS)
async def chart_of_accounts(principal: CurrentPrincipal, services: ServicesDep) -> list[AccountOut]:
    """The connected company's chart of accounts (for the account-mapping dropdowns)."""
    client = await _connected_client(services, principal.company_id)
    return [
        AccountOut(**vars(account)) for account in await company_setup.chart_of_accounts(client)
    ]


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
    return _tax_rates_out(await services.sync_settings.tax_rates(principal.company_id))


@router.post("/tax-rates/sync", response_model=list[TaxRateOut], responses=_QBO_ERRORS)
async def sync_tax_rates(principal: CurrentPrincipal, services: ServicesDep) -> list[TaxRateOut]:
    """Sync with QuickBooks: replace the stored tax rates with QuickBooks' current ones, and
    re-read the company's tax and inventory settings (automated sales tax may have been
    switched on since connecting)."""
    client = await _connected_client(services, principal.company_id)
    await services.qbo.refresh_facts(principal.company_id)
    pulled = await company_setup.pull_tax_rates(client, now=datetime.now(UTC))
    await services.sync_settings.replace_tax_rates(principal.company_id, pulled)
    return _tax_rates_out(pulled)
