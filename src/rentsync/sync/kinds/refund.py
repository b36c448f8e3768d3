"""A payment's refund -> QBO RefundReceipt (R4, B1, B2): money out of the account the payment
was deposited to, income reversed on the item of the order's first line, traceable to the
payment by its marker and description. A part of its payment's document (`<payment id>/<refund
id>`), stored with it and run under its order's lock; one QBO object per ledger row.

    policy (as the payment's) -> dependencies: the payment in QBO (else waiting), the customer,
    the item, the method -> mapping -> write (found again by DocNumber + marker) -> read-back
    (the invoice's Balance, unchanged by a refund) -> ledger
A refund removed from the payment (or the payment voided or deleted) is deleted in QBO.
"""

from __future__ import annotations

from typing import Any

from rentsync.domain import bulk
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, SkipReason, WriteIntent
from rentsync.domain.listing import Listing, compare, party
from rentsync.domain.payments import Payment, Refund, refund_source_id
from rentsync.mapping import payment as payment_mapping
from rentsync.mapping.fingerprint import fingerprint
from rentsync.sync.kinds.base import Engine, KindSpec, Run
from rentsync.sync.kinds.payment import PAYMENT, PaymentContext, after_payment, plan_after_order
from rentsync.sync.ports import Written
from rentsync.sync.references import References
from rentsync.sync.writer import CLEARED, Transaction, TransactionWriter, qbo_columns

REFUND_RECEIPT = "RefundReceipt"


def refund_parts(
    key: DocumentKey, body: dict[str, Any]
) -> list[tuple[DocumentKey, dict[str, Any]]]:
    """The refund documents of a payment's body (as the API stored it, JSON values)."""
    return [
        (
            DocumentKey(
                key.company_id, DocumentType.REFUND, refund_source_id(key.source_id, r["id"])
            ),
            {"payment_id": key.source_id, "order_id": body["order_id"], "refund": r},
        )
        for r in body.get("refunds") or []
    ]


class RefundHandler:
    def __init__(self, engine: Engine, references: References) -> None:
        self._engine = engine
        self._ctx = PaymentContext(engine, references)
        self._writer = TransactionWriter(engine.ledger)

    async def sync(self, run: Run) -> str:
        engine, key, record = self._engine, run.key, run.record
        body = run.document.body or {}
        refund = Refund.model_validate(body["refund"])
        payment_id = str(body["payment_id"])
        company = await engine.qbo.open(key.company_id)
        order = await self._ctx.order(key.company_id, str(body["order_id"]))
        invoice = await self._ctx.skip_unless_ready(
            run, company, order, in_qbo=record.qbo_id is not None
        )
        if invoice is None:
            return "skipped"
        assert order is not None and invoice.qbo_id is not None
        payment_key = DocumentKey(key.company_id, DocumentType.PAYMENT, payment_id)
        payment_record = await engine.ledger.get(payment_key)
        await engine.not_behind(run, payment_key, payment_record)
        if payment_record is None or not payment_record.qbo_id:
            state = payment_record.state if payment_record is not None else "not received"
            await engine.skipped(
                run,
                reason=SkipReason.WAITING_FOR_DOCUMENT.value,
                message=(
                    f"Waiting for payment {payment_id!r} ({state}): a refund reaches QuickBooks "
                    "after its payment; it is sent once the payment is synced."
                ),
            )
            return "skipped"
        client = engine.client_for(run, company)
        paid = await client.read(PAYMENT, payment_record.qbo_id)
        deposit = (paid.data.get("DepositToAccountRef") or {}).get("value")
        customer_id = await self._ctx.customer_id(company, client, run, order)
        item_id = await self._ctx.item_id(company, client, run, order.product_ids()[0])

        async def write(method_id: str | None) -> tuple[Written, str] | None:
            """The receipt written with `method_id`, and its digest; None: QBO holds it."""
            refs = payment_mapping.RefundRefs(
                customer_id=customer_id,
                item_id=item_id,
                deposit_account_id=str(deposit),
                method_id=method_id,
                invoice_number=order.invoice_number,
            )
            payload = payment_mapping.refund_receipt_create(
                refund, refs, key=key, payment_id=payment_id
            )
            digest = fingerprint(payload)
            if record.qbo_id and record.synced_hash == digest:
                return None
            written = await self._writer.write(
                run,
                client,
                Transaction(
                    entity=REFUND_RECEIPT,
                    create=payload,
                    update=lambda qbo_id, token: payment_mapping.refund_receipt_update(
                        refund,
                        refs,
                        key=key,
                        payment_id=payment_id,
                        qbo_id=qbo_id,
                        sync_token=token,
                    ),
                    find=WriteIntent(
                        entity=REFUND_RECEIPT,
                        field="DocNumber",
                        value=payment_mapping.refund_number(key),
                    ),
                    marker=payment_mapping.refund_marker(key),
                    content_hash=digest,
                ),
            )
            return written, digest

        outcome = await self._ctx.with_method(run, company, client, refund.method, write)
        if outcome is None:
            await engine.synced(run, "unchanged")
            return "unchanged"
        written, digest = outcome
        await self._ctx.read_back(
            run, client, order, invoice.qbo_id, qbo=qbo_columns(REFUND_RECEIPT, written, None)
        )
        await engine.synced(run, "synced", qbo_columns(REFUND_RECEIPT, written, digest))
        return "synced"

    async def remove(self, run: Run) -> str:
        company = await self._engine.qbo.open(run.key.company_id)
        deleted = await self._writer.delete(
            run, company.client, REFUND_RECEIPT, payment_mapping.refund_marker(run.key)
        )
        if not deleted:
            await self._engine.synced(run, "deleted: never in QuickBooks")
            return "deleted"
        await self._engine.synced(run, "deleted in QuickBooks", CLEARED)
        return "deleted"


def _bulk_plan(facts: bulk.Facts) -> bulk.Plan | None:
    """As its job: the order's rules, then its payment in QuickBooks (or sent first)."""
    waits = plan_after_order(facts, copy="refund")
    if waits is not None:
        return waits
    payment = after_payment(facts.document.key, facts.document.body or {})[1]
    waiting = facts.ready(payment)
    if waiting is not None:
        return bulk.Plan(
            planned=bulk.Planned.SKIP,
            reason=SkipReason.WAITING_FOR_DOCUMENT.value,
            message=(
                f"Waiting for payment {payment.source_id!r} ({waiting}): a refund reaches "
                "QuickBooks after its payment."
            ),
        )
    return None


BULK = bulk.BulkRule(
    selected_as=bulk.BulkKind.PAYMENT,
    # The payment read (its deposit account), the create; then the read-back of the
    # invoice's balance (the method's Id: once per process, as for a payment).
    create=bulk.BulkCost(batched=1, single=2),
    update=bulk.BulkCost(single=3),
    depends_on=after_payment,
    plan=_bulk_plan,
)

KIND = KindSpec(
    doc_type=DocumentType.REFUND,
    plural="refunds",
    model=Payment,  # not ingested on its own: stored from its payment's body
    example={},
    syncs_on_every_change=True,
    max_attempts=2,
    handler=RefundHandler,
    ingest=False,
    bulk=BULK,
    listing=Listing(
        title="Refund",
        number=("refund", "id"),
        date=("refund", "date"),
        amount=("refund", "amount"),
        party=party((DocumentType.ORDER, "order_id"), (DocumentType.CUSTOMER, "customer_id")),
        compared=compare(("Amount", ("refund", "amount"), ("TotalAmt",))),
    ),
)
