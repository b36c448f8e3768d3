"""What the vendor-side kinds (bills, vendor payments, purchase orders) share: the policy check,
their vendor and items found or created once, the documents they wait for, the accounts they
post to checked against the chart of accounts by type (R10), and the read-back (B2).

Every job of a vendor's bills, payments and purchase orders takes the vendor's lock
(`KindSpec.follows`): they run one at a time and in the order they were sent, so a payment
never overtakes its bill nor a bill the purchase order it bills. A document whose dependency is
not in QBO (failed, skipped) is skipped "waiting"; the dependency's next successful sync
schedules it again (`release`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rentsync import policy
from rentsync.domain import bulk
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, SkipReason
from rentsync.mapping.errors import MappingError, MappingProblem
from rentsync.sync import company_setup
from rentsync.sync.failures import VerificationFailed
from rentsync.sync.kinds.base import Engine, Run
from rentsync.sync.kinds.vendor import vendor_key
from rentsync.sync.ports import CompanyQbo, LedgerRow, QboGateway
from rentsync.sync.references import ReferenceContext, References
from rentsync.sync.verify import FigureMismatch

SETTINGS_REMEDY = (
    "Map it under Settings (PUT /api/v1/settings, accounts) to an account of that type in "
    "QuickBooks, then press Resync."
)


def follows_vendor(key: DocumentKey, body: dict[str, Any]) -> DocumentKey:
    return vendor_key(key.company_id, str(body["vendor_id"]))


SELECT_BY_NUMBER = bulk.SelectBy(date="date", number="number")
"""A bill and a purchase order are selected by their date (TxnDate) and number (DocNumber)."""


def vendor_references(key: DocumentKey, body: dict[str, Any]) -> list[DocumentKey]:
    """What a vendor document needs in QuickBooks first: its vendor, its lines' products."""
    products = dict.fromkeys(
        str(line["product_id"]) for line in body.get("lines") or [] if line.get("product_id")
    )
    return [follows_vendor(key, body)] + [
        DocumentKey(key.company_id, DocumentType.PRODUCT, product_id) for product_id in products
    ]


def plan_purchase(facts: bulk.Facts, waits_for: Sequence[DocumentKey] = ()) -> bulk.Plan | None:
    """A bulk sync's plan for a vendor document as its job decides: the connection
    (`policy.decide_purchase`), then the documents it waits for (in QuickBooks, or sent first
    by the run)."""
    decision = policy.decide_purchase(facts.connection)
    if isinstance(decision, policy.Skip):
        return bulk.Plan(
            planned=bulk.Planned.SKIP, reason=decision.reason.value, message=decision.message
        )
    for key in waits_for:
        waiting = facts.ready(key)
        if waiting is not None:
            noun = key.doc_type.value.replace("_", " ")
            return bulk.Plan(
                planned=bulk.Planned.SKIP,
                reason=SkipReason.WAITING_FOR_DOCUMENT.value,
                message=(
                    f"{SkipReason.WAITING_FOR_DOCUMENT.message} The {noun} {key.source_id!r} "
                    f"is {waiting}; this is sent once it is synced."
                ),
            )
    return None


def unmapped(account_id: str | None, *, role: str) -> bulk.Plan | None:
    """The failure the job records for an account the settings do not map (R10); whether the
    mapped account has the right type is read from QuickBooks by the job itself."""
    if account_id is not None:
        return None
    return bulk.Plan(
        planned=bulk.Planned.FAIL,
        reason=MappingProblem.ACCOUNT_NOT_MAPPED.value,
        message=f"No {role} account is mapped. {SETTINGS_REMEDY}",
    )


def written(facts: bulk.Facts, cost: bulk.BulkCost) -> bulk.Plan:
    created = facts.document.qbo_id is None
    return bulk.Plan(planned=bulk.Planned.CREATE if created else bulk.Planned.UPDATE, cost=cost)


class VendorSide:
    def __init__(self, engine: Engine, references: References) -> None:
        self.engine = engine
        self.references = references

    async def open(self, run: Run) -> tuple[CompanyQbo, QboGateway] | None:
        """The company and its client when the document may be written now; otherwise the skip
        is recorded and None returned."""
        company = await self.engine.qbo.open(run.key.company_id)
        decision = policy.decide_purchase(company.connection)
        if isinstance(decision, policy.Skip):
            await self.engine.skipped(run, reason=decision.reason.value, message=decision.message)
            return None
        return company, self.engine.client_for(run, company)

    async def context(self, run: Run, company: CompanyQbo, client: QboGateway) -> ReferenceContext:
        settings = await self.engine.settings.get(run.key.company_id)
        return ReferenceContext(
            company_id=run.key.company_id,
            client=client,
            accounts=settings.accounts,
            inventory_allowed=company.inventory_allowed,
            generation=run.record.write_generation,
        )

    async def vendor_id(self, ctx: ReferenceContext, vendor_id: str) -> str:
        return await self.references.qbo_id(ctx, vendor_key(ctx.company_id, vendor_id))

    async def item_ids(self, ctx: ReferenceContext, product_ids: Sequence[str]) -> dict[str, str]:
        self.references.check_items(ctx, list(product_ids))
        return {pid: await self.references.item_id(ctx, pid) for pid in product_ids}

    async def waiting_for(
        self, run: Run, doc_type: DocumentType, source_ids: Sequence[str]
    ) -> dict[str, LedgerRow] | None:
        """The ledger rows of the documents `run` refers to when QBO holds them all; otherwise
        the skip "waiting for ..." is recorded and None returned. One with a change queued
        behind this run is waited for in the queue (`Engine.not_behind`)."""
        rows: dict[str, LedgerRow] = {}
        for source_id in source_ids:
            key = DocumentKey(run.key.company_id, doc_type, source_id)
            record = await self.engine.ledger.get(key)
            await self.engine.not_behind(run, key, record)
            if record is None or not record.qbo_id:
                state = record.state if record is not None else "not received"
                await self.skip_waiting(run, doc_type, source_id, state)
                return None
            rows[source_id] = record
        return rows

    async def skip_waiting(
        self, run: Run, doc_type: DocumentType, source_id: str, state: str
    ) -> None:
        noun = doc_type.value.replace("_", " ")
        await self.engine.skipped(
            run,
            reason=SkipReason.WAITING_FOR_DOCUMENT.value,
            message=(
                f"{SkipReason.WAITING_FOR_DOCUMENT.message} The {noun} {source_id!r} is "
                f"{state}; this is sent once it is synced."
            ),
        )

    async def release(self, run: Run, vendor_id: str, doc_types: Sequence[DocumentType]) -> None:
        """`run`'s document is in QBO: the vendor's documents that waited for it run now."""
        await self.engine.documents.schedule_waiting(
            run.key.company_id, vendor_key(run.key.company_id, vendor_id).lock(), doc_types
        )

    async def others_pending(self, run: Run, vendor_id: str) -> bool:
        return await self.engine.documents.others_pending(
            vendor_key(run.key.company_id, vendor_id), run.key
        )


class Chart:
    """The connected company's chart of accounts, read once per job: every account a vendor
    document posts to is checked by type before anything is written (R10)."""

    def __init__(self, accounts: Sequence[company_setup.Account]) -> None:
        self._by_id: Mapping[str, company_setup.Account] = {a.id: a for a in accounts}

    @classmethod
    async def read(cls, client: QboGateway) -> Chart:
        return cls(await company_setup.chart_of_accounts(client))

    def require(
        self, account_id: str | None, *, role: str, allowed: frozenset[str]
    ) -> company_setup.Account:
        """The account mapped for `role`; fails the document with the remedy when it is not
        mapped or cannot serve (missing, inactive, another type): never a silent default."""
        if account_id is None:
            raise MappingError(
                MappingProblem.ACCOUNT_NOT_MAPPED,
                f"No {role} account is mapped",
                field=f"accounts.{role}",
                remedy=SETTINGS_REMEDY.replace("that type", " or ".join(sorted(allowed))),
            )
        account = self._by_id.get(account_id)
        problem = company_setup.account_problem(account, account_id, role, allowed)
        if problem is not None or account is None:
            raise MappingError(
                MappingProblem.ACCOUNT_UNUSABLE,
                problem or f"QuickBooks has no account with Id {account_id}",
                field=f"accounts.{role}",
                remedy=(
                    "Map an active account of type "
                    f"{' or '.join(sorted(allowed))} (PUT /api/v1/settings), then press Resync."
                ),
            )
        return account


def mismatch_failure(
    mismatch: FigureMismatch, *, remedy: str, qbo: dict[str, Any] | None
) -> VerificationFailed:
    return VerificationFailed(
        mismatch.code, mismatch.message, detail=mismatch.detail, remedy=remedy, qbo=qbo
    )
