"""The job of a name-list record (customer, product, ...) of its own: it changed, was deleted,
or an order's create of it may have been lost. Settle that and bring QBO's record to the
current revision; never create one (the first document that needs it does), except in a bulk
sync's references phase (trigger `bulk_sync`): there the records its orders need are created
first, in the bulk lane's batches, so that each order then sends only its invoice."""

from __future__ import annotations

from rentsync.domain.triggers import Trigger
from rentsync.sync.kinds.base import Engine, Run
from rentsync.sync.references import ReferenceContext, References


class NameListHandler:
    def __init__(self, engine: Engine, references: References) -> None:
        self._engine = engine
        self._references = references

    async def sync(self, run: Run) -> str:
        company = await self._engine.qbo.open(run.key.company_id)
        settings = await self._engine.settings.get(run.key.company_id)
        ctx = ReferenceContext(
            company_id=run.key.company_id,
            client=self._engine.client_for(run, company),  # NotConnected without one (R13)
            accounts=settings.accounts,
            inventory_allowed=company.inventory_allowed,
            generation=run.record.write_generation,
        )
        create = run.record.trigger == Trigger.BULK_SYNC
        qbo_id = await self._references.refresh(ctx, run.key, create=create)
        return "synced" if qbo_id else "not_synced"

    # QBO name-list records are never deleted by rentsync; the job settles the ledger.
    remove = sync
