"""Vendor bills -> QBO Bill (R5, R10, B1, B2).

    policy (the connection: `policy.decide_purchase`)
      -> dependencies: the purchase order it bills in QBO (else skipped "waiting"; the PO's
         sync schedules it again), the accounts it posts to checked against the chart of
         accounts by type (payable: Accounts Payable; each line's expense account; R10), the
         vendor and the line items found or created once
      -> mapping (`rentsync.mapping.bill`) -> nothing to write if QBO holds this version
      -> write through the `TransactionWriter` (found again by DocNumber + marker)
      -> read-back: TotalAmt and Balance against the bill's total and its balance
      -> ledger; the vendor payments that waited for it are scheduled
A bill deleted in the rental system is deleted in QBO; one with payments applied in QBO fails
with the remedy (QBO refuses, 6220).
"""

from __future__ import annotations

from typing import Any

from rentsync.domain import bulk
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, WriteIntent
from rentsync.domain.listing import Listing, party
from rentsync.domain.settings import (
    ALLOWED_ACCOUNT_TYPES,
    EXPENSE_CATEGORY_TYPES,
    AccountMapping,
    AccountRole,
)
from rentsync.domain.vendors import VendorBill, VendorPayment, bill_balance
from rentsync.mapping import bill as bill_mapping
from rentsync.mapping.fingerprint import fingerprint
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
)
from rentsync.sync.ports import QboGateway
from rentsync.sync.references import References
from rentsync.sync.verify import FigureMismatch, compare_figures, within_total
from rentsync.sync.writer import CLEARED, Transaction, TransactionWriter, qbo_columns

BILL = "Bill"
BALANCE_REMEDY = (
    "The bill's open balance in QuickBooks does not match the vendor payments sent from the "
    "rental system: a payment may have been applied to it or removed from it in QuickBooks. "
    "Correct the payments in QuickBooks, then press Resync."
)
TOTAL_REMEDY = (
    "The bill's total in QuickBooks does not match the rental system. Check the bill's lines "
    "in the rental system and in QuickBooks, fix the cause, then press Resync."
)
PAID_REMEDY = (
    "The bill has payments applied in QuickBooks, which refuses to delete it. Delete or void "
    "its vendor payments (in the rental system, which removes them from QuickBooks, or in "
    "QuickBooks), then press Resync on the bill."
)


def line_accounts(bill: VendorBill, accounts: AccountMapping, chart: Chart) -> list[str | None]:
    """Each line's expense account (None for a product line), checked by type (R10): a line's
    category must be mapped to an Expense, Other Expense or Cost of Goods Sold account, a line
    without one posts to the mapped expense account."""
    found: list[str | None] = []
    for line in bill.lines:
        if line.product_id is not None:
            found.append(None)
        elif line.category is not None:
            account = chart.require(
                accounts.expense_categories.get(line.category),
                role=f"expense_categories.{line.category}",
                allowed=EXPENSE_CATEGORY_TYPES,
            )
            found.append(account.id)
        else:
            account = chart.require(
                accounts.expense, role="expense", allowed=ALLOWED_ACCOUNT_TYPES[AccountRole.EXPENSE]
            )
            found.append(account.id)
    return found


class VendorBillHandler:
    def __init__(self, engine: Engine, references: References) -> None:
        self._engine = engine
        self._side = VendorSide(engine, references)
        self._writer = TransactionWriter(engine.ledger)

    async def sync(self, run: Run) -> str:
        bill = VendorBill.model_validate(run.document.body)
        opened = await self._side.open(run)
        if opened is None:
            return "skipped"
        company, client = opened
        purchase_order_id = None
        if bill.purchase_order_id is not None:
            waited = await self._side.waiting_for(
                run, DocumentType.PURCHASE_ORDER, [bill.purchase_order_id]
            )
            if waited is None:
                return "skipped"
            purchase_order_id = waited[bill.purchase_order_id].qbo_id
        ctx = await self._side.context(run, company, client)
        chart = await Chart.read(client)
        payable = chart.require(
            ctx.accounts.payable,
            role="payable",
            allowed=ALLOWED_ACCOUNT_TYPES[AccountRole.PAYABLE],
        )
        accounts = line_accounts(bill, ctx.accounts, chart)
        refs = bill_mapping.BillRefs(
            vendor_id=await self._side.vendor_id(ctx, bill.vendor_id),
            payable_account_id=payable.id,
            line_accounts=accounts,
            item_ids=await self._side.item_ids(ctx, bill.product_ids()),
            purchase_order_id=purchase_order_id,
        )
        payload = bill_mapping.bill_create(bill, refs, key=run.key)
        digest = fingerprint(payload)
        if run.record.qbo_id and run.record.synced_hash == digest:
            await self._engine.synced(run, "unchanged")
            await self._side.release(run, bill.vendor_id, (DocumentType.VENDOR_PAYMENT,))
            return "unchanged"
        written = await self._writer.write(
            run,
            client,
            Transaction(
                entity=BILL,
                create=payload,
                update=lambda qbo_id, token: bill_mapping.bill_update(
                    bill, refs, key=run.key, qbo_id=qbo_id, sync_token=token
                ),
                find=WriteIntent(entity=BILL, field="DocNumber", value=bill.number),
                marker=bill_mapping.bill_marker(run.key),
                content_hash=digest,
                # QBO keeps bill numbers unique only in its UI (no 6140 to catch a restored
                # ledger): look before every create.
                find_before_create=True,
            ),
        )
        await self.read_back(run, client, bill, written.data, qbo=qbo_columns(BILL, written, None))
        await self._engine.synced(run, "synced", qbo_columns(BILL, written, digest))
        await self._side.release(run, bill.vendor_id, (DocumentType.VENDOR_PAYMENT,))
        return "synced"

    async def read_back(
        self,
        run: Run,
        client: QboGateway,
        bill: VendorBill,
        qbo_bill: dict[str, Any],
        *,
        qbo: dict[str, Any] | None,
    ) -> None:
        """B2: TotalAmt equals the bill's total; Balance its balance after the vendor payments
        QBO holds (exact once none of the vendor's documents has a job still to run, else
        0 <= Balance <= TotalAmt)."""
        await check_bill(self._side, run, client, bill, run.key.source_id, qbo_bill, qbo=qbo)

    async def remove(self, run: Run) -> str:
        # Its payments' deletions, sent after it, go first: QBO refuses a paid bill's (6220).
        await self._engine.not_behind_any(run, (DocumentType.VENDOR_PAYMENT,))
        company = await self._engine.qbo.open(run.key.company_id)
        try:
            deleted = await self._writer.delete(
                run, company.client, BILL, bill_mapping.bill_marker(run.key)
            )
        except errors.CannotDelete as refused:
            refused.remedy = PAID_REMEDY
            raise
        if not deleted:
            await self._engine.synced(run, "deleted: never in QuickBooks")
            return "deleted"
        await self._engine.synced(run, "deleted in QuickBooks", CLEARED)
        return "deleted"


async def check_bill(
    side: VendorSide,
    run: Run,
    client: QboGateway,
    bill: VendorBill,
    bill_id: str,
    qbo_bill: dict[str, Any] | None = None,
    *,
    qbo: dict[str, Any] | None = None,
    this: VendorPayment | None = None,
) -> None:
    """A bill's figures in QBO against the rental system's (after the bill's own write, or a
    payment of it: `this`, just written, counts whatever the ledger holds for it yet).
    `qbo_bill`: as QBO returned it (read when None)."""
    if qbo_bill is None:
        qbo_id = await _bill_qbo_id(side, run, bill_id)
        if qbo_id is None:
            return
        qbo_bill = (await client.read(BILL, qbo_id)).data
    mismatch = compare_figures("bill", {"TotalAmt": bill.total}, qbo_bill)
    if mismatch is not None:
        raise mismatch_failure(mismatch, remedy=TOTAL_REMEDY, qbo=qbo)
    if await side.others_pending(run, bill.vendor_id):
        if not within_total(qbo_bill):
            mismatch = FigureMismatch(
                document="bill",
                figure="Balance",
                expected=f"between 0 and {bill.total}",
                actual=str(qbo_bill.get("Balance")),
            )
            raise mismatch_failure(mismatch, remedy=BALANCE_REMEDY, qbo=qbo)
        return
    members = await side.engine.documents.group(
        run.key.company_id,
        follows_vendor(run.key, {"vendor_id": bill.vendor_id}).lock(),
        DocumentType.VENDOR_PAYMENT,
    )
    payments = [
        VendorPayment.model_validate(m.body)
        for m in members
        if m.qbo_id and (this is None or m.source_id != run.key.source_id)
    ]
    if this is not None:
        payments.append(this)
    expected = bill_balance(bill, bill_id, payments)
    mismatch = compare_figures("bill", {"Balance": expected}, qbo_bill)
    if mismatch is not None:
        raise mismatch_failure(mismatch, remedy=BALANCE_REMEDY, qbo=qbo)


async def _bill_qbo_id(side: VendorSide, run: Run, bill_id: str) -> str | None:
    record = await side.engine.ledger.get(
        DocumentKey(run.key.company_id, DocumentType.VENDOR_BILL, bill_id)
    )
    return record.qbo_id if record is not None else None


def _after_order(key: DocumentKey, body: dict[str, Any]) -> list[DocumentKey]:
    """The purchase order it bills, if any: in QuickBooks first."""
    order_id = body.get("purchase_order_id")
    if order_id is None:
        return []
    return [DocumentKey(key.company_id, DocumentType.PURCHASE_ORDER, str(order_id))]


def _bulk_plan(facts: bulk.Facts) -> bulk.Plan | None:
    """As its job: the connection, its purchase order, the accounts it posts to mapped."""
    found = plan_purchase(facts, _after_order(facts.document.key, facts.document.body or {}))
    if found is not None:
        return found
    bill = VendorBill.model_validate(facts.document.body)
    accounts = facts.settings.accounts
    checks = [unmapped(accounts.payable, role="payable")]
    for line in bill.lines:
        if line.category is not None:
            category = accounts.expense_categories.get(line.category)
            checks.append(unmapped(category, role=f"expense_categories.{line.category}"))
        elif line.product_id is None:
            checks.append(unmapped(accounts.expense, role="expense"))
    return next((check for check in checks if check is not None), None)


BULK = bulk.BulkRule(
    selected_as=bulk.BulkKind.VENDOR_BILL,
    # The chart of accounts (a query), the look-up before the create (B1), the create (its
    # answer is read back); an update: the chart, then a sparse update.
    create=bulk.BulkCost(batched=3),
    update=bulk.BulkCost(batched=1, single=1),
    depends_on=_after_order,
    plan=_bulk_plan,
    references=vendor_references,
    select_by=SELECT_BY_NUMBER,
)

KIND = KindSpec(
    doc_type=DocumentType.VENDOR_BILL,
    plural="vendor-bills",
    model=VendorBill,
    example={
        "vendor_id": "V-ACE",
        "order_id": "R-1001",
        "number": "ACE-7781",
        "date": "2026-11-24",
        "due_date": "2026-12-24",
        "lines": [
            {
                "description": "Subrental: 40 chiavari chairs",
                "amount": "160.00",
                "category": "Subrentals",
            },
            {"description": "Delivery", "amount": "45.00"},
        ],
        "purchase_order_id": "PO-2001",
        "version": 2,
    },
    syncs_on_every_change=True,
    max_attempts=2,
    handler=VendorBillHandler,
    follows=follows_vendor,
    bulk=BULK,
    listing=Listing(
        title="Vendor bill",
        number=("number",),
        date=("date",),
        party=party((DocumentType.VENDOR, "vendor_id")),
    ),
)
