"""A company's settings against its QuickBooks company: the chart of accounts, saving the sync
mode and account mapping (checked against that chart), and "Sync with QuickBooks" for tax
rates. The one home of these steps: the API and the web console both call it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rentsync.domain.settings import SyncSettings
from rentsync.sync import company_setup
from rentsync.sync.ports import QboAccess, QboGateway

if TYPE_CHECKING:
    from rentsync.store.sync_settings import SyncSettingsRepository, TaxRate


class QuickBooksNotConnected(Exception):
    """The company has no working QuickBooks connection: connect it first."""


class MappingRejected(ValueError):
    """Mapped accounts QuickBooks cannot use: role (e.g. "income") -> why."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{role}: {why}" for role, why in problems.items()))
        self.problems = problems


class CompanySettingsService:
    def __init__(
        self,
        *,
        qbo_access: QboAccess,
        store: SyncSettingsRepository,
        refresh_facts: Callable[[int], Awaitable[object]],
    ) -> None:
        self._qbo_access = qbo_access
        self._store = store
        self._refresh_facts = refresh_facts

    async def _client(self, company_id: int) -> QboGateway:
        company = await self._qbo_access.open(company_id)
        if company.client is None:
            raise QuickBooksNotConnected("QuickBooks is not connected: connect it first")
        return company.client

    async def current(self, company_id: int) -> SyncSettings:
        return await self._store.get(company_id)

    async def accounts(self, company_id: int) -> list[company_setup.Account]:
        return await company_setup.chart_of_accounts(await self._client(company_id))

    async def save(self, company_id: int, settings: SyncSettings) -> SyncSettings:
        """Every mapped account must exist, be active and have a type its role allows in the
        connected QuickBooks company (MappingRejected names each one); nothing is stored
        otherwise."""
        if any(settings.accounts.model_dump().values()):
            accounts = await self.accounts(company_id)
            problems = company_setup.mapping_problems(settings.accounts, accounts)
            if problems:
                raise MappingRejected(problems)
        await self._store.put(company_id, settings)
        return settings

    async def tax_rates(self, company_id: int) -> list[TaxRate]:
        return await self._store.tax_rates(company_id)

    async def sync_tax_rates(self, company_id: int) -> list[company_setup.PulledTaxRate]:
        """Replace the stored tax rates with QuickBooks' current ones, and re-read the
        company's tax and inventory settings (automated sales tax may have been switched on
        since connecting)."""
        client = await self._client(company_id)
        await self._refresh_facts(company_id)
        pulled = await company_setup.pull_tax_rates(client, now=datetime.now(UTC))
        await self._store.replace_tax_rates(company_id, pulled)
        return pulled
