"""Purchase orders and subrentals -> QBO PurchaseOrder (R7, R10, B1, B2).

    policy (the connection: `policy.decide_purchase`; a draft is never sent)
      -> the plan: purchase orders exist on QuickBooks Plus and Advanced only; on Simple Start
         or Essentials the document fails with the remedy before anything is written
      -> dependencies: the expense account for lines without a product (R10), the vendor and
         the line items found or created once
      -> mapping (`rentsync.mapping.purchase_order`) -> nothing to write if QBO holds it
      -> write through the `TransactionWriter` (found again by DocNumber + marker; 6140 adopts
         our own)
      -> read-back: TotalAmt and POStatus
      -> ledger; the bills that waited for it are scheduled
Cancelled (or deleted in the rental system): deleted in QBO, unless a bill links it: QBO then
keeps it, closed (the bill's link to it is part of the books).
"""

from __future__ import annotations

from typing import Any

from rentsync.domain import bulk
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import SkipReason, WriteIntent
from rentsync.domain.listing import Listing, party
from rentsync.domain.settings import ALLOWED_ACCOUNT_TYPES, AccountRole
from rentsync.domain.vendors import PurchaseOrder, PurchaseOrderStatus
from rentsync.mapping import purchase_order as mapping
from rentsync.mapping.errors import MappingError, MappingProblem
from rentsync.mapping.fingerprint import fingerprint
from rentsync.mapping.idempotency import Operation, write_request_id
from rentsync.qbo import errors
from rentsync.sync.kinds.base import Engine, KindSpec, Run
from rentsync.sync.kinds.vendor_side import (
    SELECT_BY_NUMBER,
    Chart,
    VendorSide,
    follows_vendor,
    mismatch_failure,
    plan_purchase,
    unmapped,
    vendor_references,
    written,
)
from rentsync.sync.ports import QboGateway, Written
from rentsync.sync.references import References
from rentsync.sync.verify import compare_figures
from rentsync.sync.writer import CLEARED, Transaction, TransactionWriter, qbo_columns

PURCHASE_ORDER = "PurchaseOrder"
PLANS_WITH_PURCHASE_ORDERS = ("Plus", "Advanced")
"""QBO plans (CompanyInfo OfferingSku) with purchase orders (Intuit: "Purchase orders are
available in QuickBooks Online Plus"; not in Simple Start or Essentials)."""
CLOSED_CANCELLED = "cancelled"
"""The ledger's content hash of a cancelled purchase order QBO keeps, closed."""
FIGURES_REMEDY = (
    "The purchase order in QuickBooks does not match the rental system (it may have been "
    "edited or closed there). Check it in QuickBooks, then press Resync."
)
PLAN_REMEDY = (
    "Purchase orders need QuickBooks Online Plus or Advanced (Simple Start and Essentials have "
    "none). Upgrade the QuickBooks plan and turn on Purchase orders (Account and settings > "
    "Expenses), then press Resync; or keep purchase orders out of QuickBooks."
)


def purchase_orders_allowed(plan: str) -> bool:
    """Unknown (empty) plans are let through: QBO itself refuses (5020) with the remedy."""
    return not plan or any(name in plan for name in PLANS_WITH_PURCHASE_ORDERS)


def has_bills(qbo_order: dict[str, Any]) -> bool:
    return any(link.get("TxnType") == "Bill" for link in qbo_order.get("LinkedTxn", []) or [])


class PurchaseOrderHandler:
    def __init__(self, engine: Engine, references: References) -> None:
        self._engine = engine
        self._side = VendorSide(engine, references)
        self._writer = TransactionWriter(engine.ledger)

    async def sync(self, run: Run) -> str:
        order = PurchaseOrder.model_validate(run.document.body)
        opened = await self._side.open(run)
        if opened is None:
            return "skipped"
        company, client = opened
        if order.status is PurchaseOrderStatus.DRAFT:
            left = run.record.qbo_id is not None
            message = SkipReason.DRAFT.message + (
                " The purchase order already in QuickBooks was left as it is." if left else ""
            )
            await self._engine.skipped(run, reason=SkipReason.DRAFT.value, message=message)
            return "skipped"
        if not purchase_orders_allowed(company.plan):
            raise MappingError(
                MappingProblem.PURCHASE_ORDERS_NEED_PLUS,
                f"The QuickBooks plan ({company.plan}) has no purchase orders",
                field="status",
                remedy=PLAN_REMEDY,
            )
        if order.status is PurchaseOrderStatus.CANCELLED:
            return await self._withdraw(run, client, "cancelled")
        ctx = await self._side.context(run, company, client)
        expense = None
        if any(line.product_id is None for line in order.lines):
            chart = await Chart.read(client)
            expense = chart.require(
                ctx.accounts.expense,
                role="expense",
                allowed=ALLOWED_ACCOUNT_TYPES[AccountRole.EXPENSE],
            ).id
        refs = mapping.PurchaseOrderRefs(
            vendor_id=await self._side.vendor_id(ctx, order.vendor_id),
            expense_account_id=expense,
            item_ids=await self._side.item_ids(ctx, order.product_ids()),
        )
        payload = mapping.purchase_order_create(order, refs, key=run.key)
        digest = fingerprint(payload)
        if run.record.qbo_id and run.record.synced_hash == digest:
            await self._engine.synced(run, "unchanged")
            await self._side.release(run, order.vendor_id, (DocumentType.VENDOR_BILL,))
            return "unchanged"
        written = await self._writer.write(
            run,
            client,
            Transaction(
                entity=PURCHASE_ORDER,
                create=payload,
                update=lambda qbo_id, token: mapping.purchase_order_update(
                    order, refs, key=run.key, qbo_id=qbo_id, sync_token=token
                ),
                find=WriteIntent(entity=PURCHASE_ORDER, field="DocNumber", value=order.number),
                marker=mapping.purchase_order_marker(run.key),
                content_hash=digest,
            ),
        )
        self._read_back(order, written, qbo=qbo_columns(PURCHASE_ORDER, written, None))
        await self._engine.synced(run, "synced", qbo_columns(PURCHASE_ORDER, written, digest))
        await self._side.release(run, order.vendor_id, (DocumentType.VENDOR_BILL,))
        return "synced"

    @staticmethod
    def _read_back(order: PurchaseOrder, written: Written, *, qbo: dict[str, Any]) -> None:
        """B2: TotalAmt is the order's total; POStatus Closed once received, else Open (QBO
        closes a PO its bills cover in full by itself, so then either is right)."""
        expected: dict[str, Any] = {"TotalAmt": order.total}
        if order.status is PurchaseOrderStatus.RECEIVED or not has_bills(written.data):
            expected["POStatus"] = mapping.qbo_status(order)
        mismatch = compare_figures("purchase_order", expected, written.data)
        if mismatch is not None:
            raise mismatch_failure(mismatch, remedy=FIGURES_REMEDY, qbo=qbo)

    async def _withdraw(self, run: Run, client: QboGateway | None, why: str) -> str:
        """Cancelled or deleted: the PurchaseOrder is deleted in QBO, or closed when a bill
        links it (QBO keeps what a bill was entered against)."""
        record = run.record
        marker = mapping.purchase_order_marker(run.key)
        current: Written | None = None
        if record.qbo_id and client is not None:
            try:
                current = await client.read(PURCHASE_ORDER, record.qbo_id)
            except errors.BadReference:
                # Already gone from QBO (610: an earlier delete whose answer was lost).
                await self._engine.synced(run, f"{why}: deleted in QuickBooks", CLEARED)
                return "deleted"
        elif record.write_intent and client is not None:
            intent = WriteIntent.from_json(record.write_intent)
            current = await self._writer.find(run, client, intent, marker=marker)
        if current is None or client is None:
            deleted = await self._writer.delete(run, client, PURCHASE_ORDER, marker)
            outcome = f"{why}: deleted in QuickBooks" if deleted else f"{why}: never in QuickBooks"
            await self._engine.synced(run, outcome, CLEARED if deleted else None)
            return "deleted"
        if not has_bills(current.data):
            await self._writer.delete(run, client, PURCHASE_ORDER, marker)
            await self._engine.synced(run, f"{why}: deleted in QuickBooks", CLEARED)
            return "deleted"
        if current.data.get("POStatus") != mapping.CLOSED:
            current = await client.sparse_update(
                PURCHASE_ORDER,
                mapping.close(qbo_id=current.id, sync_token=current.sync_token),
                requestid=write_request_id(
                    run.key,
                    Operation.UPDATE,
                    content_hash=CLOSED_CANCELLED,
                    base_sync_token=current.sync_token,
                    generation=record.write_generation,
                ),
            )
        await self._engine.synced(
            run,
            f"{why}: closed in QuickBooks (a bill links it, so QuickBooks keeps it)",
            qbo_columns(PURCHASE_ORDER, current, CLOSED_CANCELLED),
        )
        return "closed"

    async def remove(self, run: Run) -> str:
        company = await self._engine.qbo.open(run.key.company_id)
        return await self._withdraw(run, company.client, "deleted")


def _bulk_plan(facts: bulk.Facts) -> bulk.Plan | None:
    """As its job: the connection, a draft skipped, the plan, the expense account mapped."""
    found = plan_purchase(facts)
    if found is not None:
        return found
    order = PurchaseOrder.model_validate(facts.document.body)
    if order.status is PurchaseOrderStatus.DRAFT:
        return bulk.Plan(
            planned=bulk.Planned.SKIP,
            reason=SkipReason.DRAFT.value,
            message=SkipReason.DRAFT.message,
        )
    if not purchase_orders_allowed(facts.qbo_plan):
        return bulk.Plan(
            planned=bulk.Planned.FAIL,
            reason=MappingProblem.PURCHASE_ORDERS_NEED_PLUS.value,
            message=f"The QuickBooks plan ({facts.qbo_plan}) has no purchase orders. {PLAN_REMEDY}",
        )
    if order.status is PurchaseOrderStatus.CANCELLED and facts.document.qbo_id is None:
        return bulk.Plan(
            planned=bulk.Planned.SKIP,
            reason="cancelled_before_sent",
            message="The purchase order was cancelled before it reached QuickBooks: there is "
            "nothing to send.",
        )
    chart = any(line.product_id is None for line in order.lines)
    if chart:
        found = unmapped(facts.settings.accounts.expense, role="expense")
        if found is not None:
            return found
    # The chart of accounts (a query) when a line posts to an account, then the create; an
    # update is a sparse update.
    if facts.document.qbo_id is None:
        return written(facts, bulk.BulkCost(batched=int(chart) + 1))
    return written(facts, bulk.BulkCost(batched=int(chart), single=1))


BULK = bulk.BulkRule(
    selected_as=bulk.BulkKind.PURCHASE_ORDER,
    create=bulk.BulkCost(batched=2),
    update=bulk.BulkCost(batched=1, single=1),
    plan=_bulk_plan,
    references=vendor_references,
    select_by=SELECT_BY_NUMBER,
)

KIND = KindSpec(
    doc_type=DocumentType.PURCHASE_ORDER,
    plural="purchase-orders",
    model=PurchaseOrder,
    example={
        "number": "PO-2001",
        "kind": "subrental",
        "vendor_id": "V-ACE",
        "status": "approved",
        "date": "2026-11-20",
        "order_id": "R-1001",
        "pick_up": "2026-11-26",
        "return_date": "2026-11-30",
        "lines": [{"description": "Chiavari chair, gold", "quantity": "40", "rate": "4.00"}],
        "ship_to": {"line1": "12 Maple St", "city": "Austin", "region": "TX"},
        "version": 3,
    },
    syncs_on_every_change=True,
    max_attempts=2,
    handler=PurchaseOrderHandler,
    follows=follows_vendor,
    bulk=BULK,
    listing=Listing(
        title="Purchase order",
        number=("number",),
        date=("date",),
        party=party((DocumentType.VENDOR, "vendor_id")),
    ),
)
