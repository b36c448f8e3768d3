"""Vendor payments -> QBO BillPayment linked to its bills (R6, R10, B1, B2).

    policy (the connection: `policy.decide_purchase`)
      -> dependencies: every bill it pays in QBO (else skipped "waiting"; a bill's sync
         schedules the payments that waited for it), each a bill of the same vendor; the
         paid-from account checked by type (Bank: a check, Credit Card: a card payment; R10);
         the vendor
      -> mapping (`rentsync.mapping.bill_payment`) -> nothing to write if QBO holds this version
      -> write through the `TransactionWriter` (found again by VendorRef + marker)
      -> read-back: TotalAmt against the payment's amount, each bill's balance
      -> ledger
Voided in the rental system: the BillPayment is voided in QBO (`include=void`), which gives the
bills their balance back; QBO cannot undo a void, so a payment "un-voided" fails with the
remedy. Deleted in the rental system: the BillPayment is deleted in QBO.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rentsync.domain import bulk
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, WriteIntent
from rentsync.domain.listing import Listing, party
from rentsync.domain.settings import ALLOWED_ACCOUNT_TYPES, AccountRole
from rentsync.domain.vendors import VendorBill, VendorPayment
from rentsync.mapping import bill_payment as mapping
from rentsync.mapping.errors import MappingError, MappingProblem
from rentsync.mapping.fingerprint import fingerprint
from rentsync.mapping.idempotency import Operation, write_request_id
from rentsync.qbo import errors
from rentsync.sync.kinds.base import Engine, KindSpec, Run
from rentsync.sync.kinds.vendor_bill import check_bill
from rentsync.sync.kinds.vendor_side import (
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

BILL_PAYMENT = "BillPayment"
VOIDED = "voided"
"""The ledger's content hash of a payment voided in QBO (nothing can change it any more)."""
VOIDED_AMOUNT = Decimal("0.00")
"""QBO zeroes a voided payment's amounts."""
AMOUNT_REMEDY = (
    "The bill payment's amount in QuickBooks does not match the rental system. Check the "
    "payment in QuickBooks (it may have been edited there), then press Resync."
)


def is_voided(bill_payment: dict[str, Any]) -> bool:
    note = bill_payment.get("PrivateNote")
    return isinstance(note, str) and note.startswith("Voided")


class VendorPaymentHandler:
    def __init__(self, engine: Engine, references: References) -> None:
        self._engine = engine
        self._side = VendorSide(engine, references)
        self._writer = TransactionWriter(engine.ledger)

    async def sync(self, run: Run) -> str:
        payment = VendorPayment.model_validate(run.document.body)
        record = run.record
        opened = await self._side.open(run)
        if opened is None:
            return "skipped"
        company, client = opened
        marker = mapping.bill_payment_marker(run.key)
        if payment.voided:
            return await self._void(run, client, marker)
        if record.synced_hash == VOIDED:
            raise MappingError(
                MappingProblem.PAYMENT_VOIDED,
                "The payment is voided in QuickBooks, which cannot undo a void",
                field="voided",
                remedy="Record the payment again under a new id in the rental system.",
            )
        bills = await self._bills(run, payment)
        missing = [a.bill_id for a in payment.bills if a.bill_id not in bills]
        if missing:
            await self._side.skip_waiting(
                run, DocumentType.VENDOR_BILL, missing[0], "not received (or deleted)"
            )
            return "skipped"
        waited = await self._side.waiting_for(run, DocumentType.VENDOR_BILL, list(bills))
        if waited is None:
            return "skipped"
        ctx = await self._side.context(run, company, client)
        chart = await Chart.read(client)
        account = chart.require(
            payment.paid_from_account_id or ctx.accounts.vendor_payment,
            role="paid_from_account_id" if payment.paid_from_account_id else "vendor_payment",
            allowed=ALLOWED_ACCOUNT_TYPES[AccountRole.VENDOR_PAYMENT],
        )
        vendor_id = await self._side.vendor_id(ctx, payment.vendor_id)
        refs = mapping.BillPaymentRefs(
            vendor_id=vendor_id,
            account_id=account.id,
            account_type=account.account_type,
            bill_ids={bill_id: str(row.qbo_id) for bill_id, row in waited.items()},
        )
        payload = mapping.bill_payment_create(payment, refs, key=run.key)
        digest = fingerprint(payload)
        if record.qbo_id and record.synced_hash == digest:
            await self._engine.synced(run, "unchanged")
            return "unchanged"
        written = await self._writer.write(
            run,
            client,
            Transaction(
                entity=BILL_PAYMENT,
                create=payload,
                update=lambda qbo_id, token: mapping.bill_payment_update(
                    payment, refs, key=run.key, qbo_id=qbo_id, sync_token=token
                ),
                find=WriteIntent(entity=BILL_PAYMENT, field="VendorRef", value=vendor_id),
                marker=marker,
                content_hash=digest,
                # QBO keeps no unique number on a BillPayment: look before every create.
                find_before_create=True,
            ),
        )
        columns = qbo_columns(BILL_PAYMENT, written, None)
        mismatch = compare_figures("bill_payment", {"TotalAmt": payment.amount}, written.data)
        if mismatch is not None:
            raise mismatch_failure(mismatch, remedy=AMOUNT_REMEDY, qbo=columns)
        for bill_id, bill in bills.items():
            await check_bill(self._side, run, client, bill, bill_id, qbo=columns, this=payment)
        await self._engine.synced(run, "synced", qbo_columns(BILL_PAYMENT, written, digest))
        return "synced"

    async def _bills(self, run: Run, payment: VendorPayment) -> dict[str, VendorBill]:
        """The bills it pays, as the rental system sent them: each must be the vendor's."""
        found: dict[str, VendorBill] = {}
        for application in payment.bills:
            key = DocumentKey(run.key.company_id, DocumentType.VENDOR_BILL, application.bill_id)
            document = await self._engine.documents.get(key)
            if document is None or document.body is None:
                continue  # not received (or deleted): waited for
            bill = VendorBill.model_validate(document.body)
            if bill.vendor_id != payment.vendor_id:
                raise MappingError(
                    MappingProblem.BILL_OF_ANOTHER_VENDOR,
                    f"Bill {application.bill_id!r} is vendor {bill.vendor_id!r}'s, the payment "
                    f"vendor {payment.vendor_id!r}'s",
                    field="bills",
                    remedy="Pay each vendor's bills with a payment to that vendor, then Update.",
                )
            found[application.bill_id] = bill
        return found

    async def _void(self, run: Run, client: QboGateway, marker: str) -> str:
        """Void the BillPayment (found first when its create's answer was lost)."""
        current: Written | None = None
        if run.record.qbo_id:
            current = await client.read(BILL_PAYMENT, run.record.qbo_id)
        elif run.record.write_intent:
            intent = WriteIntent.from_json(run.record.write_intent)
            current = await self._writer.find(run, client, intent, marker=marker)
        if current is None:
            await self._engine.synced(run, "voided before it was sent: nothing in QuickBooks")
            return "synced"
        if not is_voided(current.data):
            try:
                current = await client.void(
                    BILL_PAYMENT, current.id, current.sync_token, requestid=_void_id(run, current)
                )
            except errors.Locked as stale:
                if stale.code != "5010":
                    raise
                fresh = await client.read(BILL_PAYMENT, current.id)
                current = (
                    fresh
                    if is_voided(fresh.data)
                    else await client.void(
                        BILL_PAYMENT, fresh.id, fresh.sync_token, requestid=_void_id(run, fresh)
                    )
                )
        columns = qbo_columns(BILL_PAYMENT, current, VOIDED)
        mismatch = compare_figures("bill_payment", {"TotalAmt": VOIDED_AMOUNT}, current.data)
        if mismatch is not None:
            raise mismatch_failure(mismatch, remedy=AMOUNT_REMEDY, qbo=columns)
        await self._engine.synced(run, "voided in QuickBooks", columns)
        return "synced"

    async def remove(self, run: Run) -> str:
        company = await self._engine.qbo.open(run.key.company_id)
        deleted = await self._writer.delete(
            run, company.client, BILL_PAYMENT, mapping.bill_payment_marker(run.key)
        )
        if not deleted:
            await self._engine.synced(run, "deleted: never in QuickBooks")
            return "deleted"
        await self._engine.synced(run, "deleted in QuickBooks", CLEARED)
        return "deleted"


def _void_id(run: Run, current: Written) -> str:
    return write_request_id(
        run.key,
        Operation.VOID,
        content_hash="void",
        base_sync_token=current.sync_token,
        generation=run.record.write_generation,
    )


def _after_bills(key: DocumentKey, body: dict[str, Any]) -> list[DocumentKey]:
    """The bills it pays: in QuickBooks first."""
    return [
        DocumentKey(key.company_id, DocumentType.VENDOR_BILL, str(applied["bill_id"]))
        for applied in body.get("bills") or []
    ]


def _bulk_plan(facts: bulk.Facts) -> bulk.Plan | None:
    """As its job: the connection, a void (nothing to void if never sent), its bills, the
    account it is paid from mapped."""
    payment = VendorPayment.model_validate(facts.document.body)
    if payment.voided:
        found = plan_purchase(facts)
        if found is not None:
            return found
        if facts.document.qbo_id is None:
            return bulk.VOIDED_BEFORE_SENT
        return written(facts, bulk.BulkCost(single=2))  # read it, void it
    found = plan_purchase(facts, _after_bills(facts.document.key, facts.document.body or {}))
    if found is not None:
        return found
    role = "paid_from_account_id" if payment.paid_from_account_id else "vendor_payment"
    account = payment.paid_from_account_id or facts.settings.accounts.vendor_payment
    found = unmapped(account, role=role)
    if found is not None:
        return found
    # The chart of accounts and the look-up before the create (queries), the create; then each
    # bill it pays read back.
    bills = len(payment.bills)
    if facts.document.qbo_id is None:
        return written(facts, bulk.BulkCost(batched=3, single=bills))
    return written(facts, bulk.BulkCost(batched=2, single=1 + bills))


BULK = bulk.BulkRule(
    selected_as=bulk.BulkKind.VENDOR_PAYMENT,
    create=bulk.BulkCost(batched=3, single=1),
    update=bulk.BulkCost(batched=2, single=2),
    depends_on=_after_bills,
    plan=_bulk_plan,
    references=lambda key, body: vendor_references(key, body)[:1],
    select_by=bulk.SelectBy(date="date", number="reference_number"),
)

KIND = KindSpec(
    doc_type=DocumentType.VENDOR_PAYMENT,
    plural="vendor-payments",
    model=VendorPayment,
    example={
        "vendor_id": "V-ACE",
        "bills": [{"bill_id": "B-7781", "amount": "205.00"}],
        "date": "2026-12-01",
        "method": "check",
        "reference_number": "1042",
        "voided": False,
        "version": 1,
    },
    syncs_on_every_change=True,
    max_attempts=2,
    handler=VendorPaymentHandler,
    follows=follows_vendor,
    bulk=BULK,
    listing=Listing(
        title="Vendor payment",
        number=("reference_number",),
        date=("date",),
        party=party((DocumentType.VENDOR, "vendor_id")),
    ),
)
