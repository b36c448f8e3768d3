"""QuickBooks settings: connection (Connect, Disconnect), sync mode and account mapping, and
tax rates with "Sync with QuickBooks". Thin: every step is the API's service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from rentsync.api.deps import ServicesDep
from rentsync.bootstrap import Services
from rentsync.domain.people import Ability, ConsoleUser
from rentsync.domain.settings import (
    ALLOWED_ACCOUNT_TYPES,
    AccountMapping,
    AccountRole,
    SyncMode,
    SyncSettings,
)
from rentsync.qbo import errors
from rentsync.qbo.connector import NotConfigured
from rentsync.sync.company_setup import Account
from rentsync.sync.settings_service import MappingRejected, QuickBooksNotConnected
from rentsync.web.actions import audited, qbo_failure
from rentsync.web.auth import CurrentUser, requires
from rentsync.web.render import flash, render

router = APIRouter(include_in_schema=False)
PAGE = "/settings/quickbooks"
TAX_PAGE = "/settings/tax-rates"

ROLE_LABELS: dict[AccountRole, str] = {
    AccountRole.INCOME: "Income (rentals and sales)",
    AccountRole.EXPENSE: "Cost of goods sold",
    AccountRole.ASSET: "Inventory asset",
    AccountRole.PAYABLE: "Accounts payable (vendor bills)",
    AccountRole.VENDOR_PAYMENT: "Pays vendor bills from",
    AccountRole.DEPOSIT: "Customer payments deposited to",
}
MODE_LABELS: dict[SyncMode, str] = {
    SyncMode.WITH_PAYMENT: "Orders, and quotes once they have a payment",
    SyncMode.ALL: "All orders and quotes",
    SyncMode.ONLY_WITH_PAYMENT: "Orders and quotes only once they have a payment",
}
Owner = Annotated[ConsoleUser, requires(Ability.MANAGE_QUICKBOOKS)]
Worker = Annotated[ConsoleUser, requires(Ability.WORK)]


@dataclass(frozen=True)
class RoleChoice:
    role: AccountRole
    label: str
    allowed: str
    selected: str | None
    options: list[Account]


def role_choices(accounts: list[Account], mapping: AccountMapping) -> list[RoleChoice]:
    """Per role, the accounts of a type it allows and active (the mapped one always listed, so
    an account made inactive in QuickBooks shows as such instead of vanishing)."""
    choices = []
    for role in AccountRole:
        allowed = ALLOWED_ACCOUNT_TYPES[role]
        selected = mapping.for_role(role)
        options = [
            a for a in accounts if a.account_type in allowed and (a.active or a.id == selected)
        ]
        choices.append(
            RoleChoice(role, ROLE_LABELS[role], " or ".join(sorted(allowed)), selected, options)
        )
    return choices


async def _page(
    request: Request,
    user: ConsoleUser,
    services: Services,
    *,
    settings: SyncSettings | None = None,
    errors_by_role: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    status = await services.qbo.status(user.company_id)
    current = settings or await services.company_settings.current(user.company_id)
    accounts: list[Account] = []
    accounts_error = None
    if status.state == "connected":
        try:
            accounts = await services.company_settings.accounts(user.company_id)
        except (errors.QboError, QuickBooksNotConnected) as exc:
            accounts_error = qbo_failure(exc) if isinstance(exc, errors.QboError) else str(exc)
    return render(
        request,
        "quickbooks.html",
        user,
        {
            "status": status,
            "settings": current,
            "modes": MODE_LABELS,
            "choices": role_choices(accounts, current.accounts),
            "accounts_error": accounts_error,
            "errors": errors_by_role or {},
            "can_manage": user.may(Ability.MANAGE_QUICKBOOKS),
        },
        status_code=status_code,
    )


@router.get(PAGE)
async def settings_page(request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    return await _page(request, user, services)


@router.post(f"{PAGE}/connect")
async def connect(request: Request, user: Owner, services: ServicesDep) -> Response:
    """Off to Intuit's consent page; Intuit sends the browser back to /qbo/callback."""
    try:
        url = await services.qbo.start_connect(user.company_id)
    except NotConfigured as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(PAGE, status_code=303)
    except errors.QboError as exc:
        flash(request, qbo_failure(exc), "error")
        return RedirectResponse(PAGE, status_code=303)
    await audited(services, user, "quickbooks.connect_started")
    return RedirectResponse(url, status_code=303)


@router.post(f"{PAGE}/disconnect")
async def disconnect(request: Request, user: Owner, services: ServicesDep) -> Response:
    status = await services.qbo.disconnect(user.company_id)
    await audited(services, user, "quickbooks.disconnected", status.realm_id or "")
    flash(request, "QuickBooks is disconnected. Nothing more is sent until you connect again.")
    return RedirectResponse(PAGE, status_code=303)


@router.post(f"{PAGE}/settings")
async def save_settings(request: Request, user: Owner, services: ServicesDep) -> Response:
    """The sync mode and one account per role ("" leaves a role unmapped); the vendor bill
    expense categories (mapped through the API) are kept as they are."""
    form = await request.form()
    current = await services.company_settings.current(user.company_id)
    values = {role.value: str(form.get(role.value, "") or "") or None for role in AccountRole}
    try:
        wanted = SyncSettings(
            sync_mode=SyncMode(str(form.get("sync_mode", ""))),
            accounts=AccountMapping(
                **values,
                expense_categories=current.accounts.expense_categories,
            ),
        )
    except (ValueError, ValidationError):
        flash(request, "Choose a sync mode and accounts from the lists.", "error")
        return RedirectResponse(PAGE, status_code=303)
    try:
        await services.company_settings.save(user.company_id, wanted)
    except MappingRejected as exc:
        return await _page(
            request,
            user,
            services,
            settings=wanted,
            errors_by_role=exc.problems,
            status_code=422,
        )
    except (errors.QboError, QuickBooksNotConnected) as exc:
        flash(request, qbo_failure(exc) if isinstance(exc, errors.QboError) else str(exc), "error")
        return RedirectResponse(PAGE, status_code=303)
    await audited(
        services,
        user,
        "settings.saved",
        detail={"sync_mode": wanted.sync_mode.value, **values},
    )
    flash(request, "Settings saved.")
    return RedirectResponse(PAGE, status_code=303)


@router.get(TAX_PAGE)
async def tax_rates(request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    rates = await services.company_settings.tax_rates(user.company_id)
    status = await services.qbo.status(user.company_id)
    return render(
        request,
        "tax_rates.html",
        user,
        {"rates": rates, "status": status, "can_sync": user.may(Ability.WORK)},
    )


@router.post(f"{TAX_PAGE}/sync")
async def sync_tax_rates(request: Request, user: Worker, services: ServicesDep) -> Response:
    try:
        pulled = await services.company_settings.sync_tax_rates(user.company_id)
    except QuickBooksNotConnected as exc:
        flash(request, str(exc), "error")
    except errors.QboError as exc:
        flash(request, qbo_failure(exc), "error")
    else:
        await audited(services, user, "tax_rates.synced", detail={"count": len(pulled)})
        flash(request, f"{len(pulled)} tax rates pulled from QuickBooks.")
    return RedirectResponse(TAX_PAGE, status_code=303)
