"""Each company's sync settings (sync mode, account mapping) and the tax rates pulled from QBO."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.settings import AccountMapping, SyncMode, SyncSettings


@dataclass(frozen=True, kw_only=True)
class TaxRate:
    qbo_id: str
    name: str
    rate_percent: Decimal
    active: bool
    synced_at: datetime


class TaxRateLike(Protocol):
    """A tax rate as pulled from QBO (`sync.company_setup.PulledTaxRate`) or as stored."""

    @property
    def qbo_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def rate_percent(self) -> Decimal: ...

    @property
    def active(self) -> bool: ...

    @property
    def synced_at(self) -> datetime: ...


SETTINGS_COLUMNS = "sync_mode, accounts"
"""What `settings_of` reads from a `company_settings` row."""


def settings_of(row: Sequence[Any] | None) -> SyncSettings:
    """A company's settings from its row's `SETTINGS_COLUMNS` (None, or a NULL sync_mode: no
    row, the defaults)."""
    if row is None or row[0] is None:
        return SyncSettings()
    return SyncSettings(sync_mode=SyncMode(row[0]), accounts=AccountMapping.model_validate(row[1]))


class SyncSettingsRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def get(self, company_id: int) -> SyncSettings:
        """The company's settings; the defaults until it saves its own."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT sync_mode, accounts FROM company_settings WHERE company_id = %s",
                (company_id,),
            )
            row = await cursor.fetchone()
        return settings_of(row)

    async def put(self, company_id: int, settings: SyncSettings) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO company_settings (company_id, sync_mode, accounts) "
                "VALUES (%s, %s, %s) ON CONFLICT (company_id) DO UPDATE SET "
                "sync_mode = EXCLUDED.sync_mode, accounts = EXCLUDED.accounts, updated_at = now()",
                (
                    company_id,
                    settings.sync_mode.value,
                    Jsonb(settings.accounts.model_dump(mode="json")),
                ),
            )

    async def replace_tax_rates(self, company_id: int, rates: Sequence[TaxRateLike]) -> None:
        """Make the stored list equal QBO's, in one transaction (a reader never sees half)."""
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM tax_rates WHERE company_id = %s", (company_id,))
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO tax_rates (company_id, qbo_id, name, rate_percent, active, "
                    "synced_at) VALUES (%s, %s, %s, %s, %s, %s)",
                    [
                        (company_id, r.qbo_id, r.name, r.rate_percent, r.active, r.synced_at)
                        for r in rates
                    ],
                )

    async def tax_rates(self, company_id: int) -> list[TaxRate]:
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(TaxRate)) as cur,
        ):
            await cur.execute(
                "SELECT qbo_id, name, rate_percent, active, synced_at FROM tax_rates "
                "WHERE company_id = %s ORDER BY name, qbo_id",
                (company_id,),
            )
            return await cur.fetchall()
