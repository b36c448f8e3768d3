"""What a company sets up against its QBO company: tax rates pulled from QBO (R8) and the
account mapping checked against QBO's chart of accounts (R10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from rentsync.domain.settings import (
    ALLOWED_ACCOUNT_TYPES,
    EXPENSE_CATEGORY_TYPES,
    AccountMapping,
    AccountRole,
)


class Catalogue(Protocol):
    """The read calls this module needs (`rentsync.qbo.client.QboClient` has them)."""

    async def query_all(
        self, entity: str, where: str = "", *, page_size: int = ..., order_by: str = ""
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, kw_only=True)
class PulledTaxRate:
    qbo_id: str
    """The QBO TaxCode Id: what an order's tax_rate_id names and the invoice references."""
    name: str
    rate_percent: Decimal
    """The sum of the code's sales tax rates, e.g. 8.25."""
    active: bool
    synced_at: datetime


async def pull_tax_rates(client: Catalogue, *, now: datetime) -> list[PulledTaxRate]:
    """QBO's tax codes with their combined sales rate. The US pseudo-codes TAX, NON and
    CustomSalesTax are line flags, not rates, and are left out (reference §4 TaxCode)."""
    rates = {str(r["Id"]): r for r in await client.query_all("TaxRate")}
    pulled = []
    for code in await client.query_all("TaxCode"):
        code_id = str(code.get("Id", ""))
        if not code_id.isdigit():
            continue
        details = (code.get("SalesTaxRateList") or {}).get("TaxRateDetail") or []
        total = Decimal("0")
        for detail in details:
            rate = rates.get(str((detail.get("TaxRateRef") or {}).get("value", "")))
            if rate is not None:
                total += Decimal(str(rate.get("RateValue", "0")))
        pulled.append(
            PulledTaxRate(
                qbo_id=code_id,
                name=str(code.get("Name", code_id)),
                rate_percent=total,
                active=bool(code.get("Active", True)),
                synced_at=now,
            )
        )
    return pulled


@dataclass(frozen=True, kw_only=True)
class Account:
    id: str
    name: str
    account_type: str
    account_sub_type: str
    active: bool


async def chart_of_accounts(client: Catalogue) -> list[Account]:
    """Every account, inactive ones included: QBO answers a query on a name list with its active
    objects only unless the query names Active (Intuit's query docs: "SELECT * FROM Customer"
    retrieves all active customers), and a mapped account made inactive must be reported as
    inactive, not as missing."""
    return [
        Account(
            id=str(a["Id"]),
            name=str(a.get("FullyQualifiedName") or a.get("Name", "")),
            account_type=str(a.get("AccountType", "")),
            account_sub_type=str(a.get("AccountSubType", "")),
            active=bool(a.get("Active", True)),
        )
        for a in await client.query_all("Account", "Active IN (true, false)", order_by="Name")
    ]


def mapping_problems(mapping: AccountMapping, accounts: list[Account]) -> dict[str, str]:
    """Per role, why the mapped account cannot be used (missing, inactive, wrong type)."""
    by_id = {a.id: a for a in accounts}
    problems: dict[str, str] = {}
    wanted: list[tuple[str, str, frozenset[str]]] = [
        (role.value, account_id, ALLOWED_ACCOUNT_TYPES[role])
        for role in AccountRole
        if (account_id := mapping.for_role(role)) is not None
    ]
    wanted += [
        (f"expense_categories.{category}", account_id, EXPENSE_CATEGORY_TYPES)
        for category, account_id in mapping.expense_categories.items()
    ]
    for role, account_id, allowed in wanted:
        problem = account_problem(by_id.get(account_id), account_id, role, allowed)
        if problem is not None:
            problems[role] = problem
    return problems


def account_problem(
    account: Account | None, account_id: str, role: str, allowed: frozenset[str]
) -> str | None:
    """Why `account` cannot serve `role` (missing, inactive, a type the role does not allow)."""
    if account is None:
        return (
            f"QuickBooks has no account with Id {account_id}: pick one from "
            "GET /api/v1/qbo/accounts"
        )
    if not account.active:
        return (
            f"{account.name!r} (Id {account_id}) is inactive in QuickBooks: make it active "
            "again there (Chart of accounts, include inactive, Make active) or map another "
            f"{role} account"
        )
    if account.account_type not in allowed:
        return (
            f"{account.name!r} is a {account.account_type} account; the {role} "
            f"account must be {' or '.join(sorted(allowed))}"
        )
    return None
