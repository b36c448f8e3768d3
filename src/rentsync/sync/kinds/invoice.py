"""Orders and quotes -> QBO Invoice (R2, R3, R9, R11-R14, B2).

    policy (sync or skip, with the reason: `rentsync.policy`)
      -> dependencies: the customer and the items, found or created once (`References`)
      -> mapping (`rentsync.mapping.invoice`)   -> nothing to write if QBO holds this version
      -> write through the `TransactionWriter` (deterministic requestid, write intent)
      -> read-back: QBO's tax, total and balance against the order's (`verify_invoice`)
      -> ledger
A deleted order's invoice is deleted in QBO.
"""

from __future__ import annotations

from collections.abc import Set

from rentsync import policy
from rentsync.domain import bulk
from rentsync.domain.documents import DocumentType, Order
from rentsync.domain.ledger import DocumentKey, WriteIntent
from rentsync.domain.listing import Listing, compare, party
from rentsync.domain.triggers import Trigger
from rentsync.mapping import invoice as invoice_mapping
from rentsync.mapping.fingerprint import fingerprint
from rentsync.sync.failures import VerificationFailed
from rentsync.sync.kinds.base import Engine, KindSpec, Run
from rentsync.sync.references import ReferenceContext, References
from rentsync.sync.verify import verify_invoice
from rentsync.sync.writer import CLEARED, Transaction, TransactionWriter, qbo_columns

INVOICE = "Invoice"


class InvoiceKind:
    def __init__(self, engine: Engine, references: References) -> None:
        self._engine = engine
        self._references = references
        self._writer = TransactionWriter(engine.ledger)

    async def sync(self, run: Run) -> str:
        engine, key = self._engine, run.key
        company, settings = await engine.qbo.open_with_settings(
            key.company_id, version=run.company_version
        )
        order = Order.model_validate(run.document.body)
        if policy.needs_payment_fact(order, settings):
            order = await self._with_payments(key, order)
        decision = policy.decide(
            order,
            settings,
            company.connection,
            trigger=Trigger(run.record.trigger),
            first_seen_at=run.document.first_seen_at,
            last_user_action_at=run.record.last_user_action_at,
            in_qbo=run.record.qbo_id is not None,
        )
        if isinstance(decision, policy.Skip):
            await engine.skipped(run, reason=decision.reason.value, message=decision.message)
            return "skipped"
        client = engine.client_for(run, company)
        references = [DocumentKey(key.company_id, DocumentType.CUSTOMER, order.customer_id)] + [
            DocumentKey(key.company_id, DocumentType.PRODUCT, pid) for pid in order.product_ids()
        ]
        find = WriteIntent(entity=INVOICE, field="DocNumber", value=order.invoice_number)
        # A first create's intent goes into the ledger with the references' read (B1: before
        # anything of this run is sent), saving the statement of its own.
        first_create = run.record.qbo_id is None and not run.record.write_intent
        found = await engine.ledger.references(
            references, noting=(key, find) if first_create else None
        )
        ctx = ReferenceContext(
            company_id=key.company_id,
            client=client,
            accounts=settings.accounts,
            inventory_allowed=company.inventory_allowed,
            snapshots=found.snapshots,
            records=found.records,
            generation=run.record.write_generation,
        )
        self._references.check_items(ctx, order.product_ids())
        customer_id = await self._references.customer_id(ctx, order.customer_id)
        item_ids = {pid: await self._references.item_id(ctx, pid) for pid in order.product_ids()}
        refs = invoice_mapping.InvoiceRefs(
            customer_id=customer_id,
            item_ids=item_ids,
            tax_code_id=await self._tax_code(key.company_id, order),
            automated_sales_tax=company.automated_sales_tax,
        )
        payload = invoice_mapping.invoice_create(order, refs, key=key)
        digest = fingerprint(payload)
        if run.record.qbo_id and run.record.synced_hash == digest:
            await engine.synced(run, "unchanged", release=_waiting_on(key), ending=run.job)
            return "unchanged"
        written = await self._writer.write(
            run,
            client,
            Transaction(
                entity=INVOICE,
                create=payload,
                update=lambda qbo_id, token: invoice_mapping.invoice_update(
                    order, refs, key=key, qbo_id=qbo_id, sync_token=token
                ),
                find=find,
                marker=invoice_mapping.invoice_marker(key),
                content_hash=digest,
                intent_noted=found.noted,
            ),
        )
        mismatches = verify_invoice(order, written.data)
        if mismatches:
            first = mismatches[0]
            # QBO holds the invoice now: remember it (the next attempt updates, never
            # duplicates) but not the hash, so a Resync writes again.
            raise VerificationFailed(
                first.code,
                first.message,
                detail=first.detail,
                remedy=first.remedy,
                qbo=qbo_columns(INVOICE, written, None),
            )
        # The job's last statement: it may end the job too (one round trip fewer, P4).
        await engine.synced(
            run,
            "synced",
            qbo_columns(INVOICE, written, digest),
            release=_waiting_on(key),
            ending=run.job,
        )
        return "synced"

    async def _with_payments(self, key: DocumentKey, order: Order) -> Order:
        """R11: an order has a payment when the rental system says so or one of its payments
        (not voided) was sent to rentsync."""
        if order.has_payment:
            return order
        payments = await self._engine.documents.group(
            key.company_id, key.lock(), DocumentType.PAYMENT
        )
        if any(not member.body.get("voided") for member in payments):
            return order.model_copy(update={"has_payment": True})
        return order

    async def remove(self, run: Run) -> str:
        # Its payments' deletions and voids, sent after it, go first: QBO refuses to delete an
        # invoice with payments applied (6220).
        await self._engine.not_behind_any(run, _waiting_on(run.key)[1])
        company = await self._engine.qbo.open(run.key.company_id)
        deleted = await self._writer.delete(
            run,
            company.client,
            INVOICE,
            invoice_mapping.invoice_marker(run.key),
        )
        if not deleted:
            await self._engine.synced(run, "deleted: never in QuickBooks")
            return "deleted"
        await self._engine.synced(run, "deleted in QuickBooks", CLEARED)
        return "deleted"

    async def _tax_code(self, company_id: int, order: Order) -> str | None:
        if order.tax_rate_id is None:
            return None
        rates = await self._engine.settings.tax_rates(company_id)
        return tax_code_of(order, {str(rate.qbo_id) for rate in rates})


def _waiting_on(key: DocumentKey) -> tuple[str, tuple[DocumentType, ...]]:
    """The invoice is in QBO: the order's payments (and their parts) that waited for it run
    now, under the order's lock, after this job (scheduled with the ledger's outcome)."""
    return key.lock(), (DocumentType.PAYMENT, DocumentType.REFUND, DocumentType.PAYMENT_VOID)


def tax_code_of(order: Order, synced_rate_ids: Set[str]) -> str | None:
    """The QBO TaxCode of the order's tax rate, if it is one synced from QBO (else None: the
    invoice mapping says what is wrong)."""
    return order.tax_rate_id if order.tax_rate_id in synced_rate_ids else None


KIND = KindSpec(
    doc_type=DocumentType.ORDER,
    plural="orders",
    model=Order,
    example={
        "kind": "order",
        "customer_id": "C-1001",
        "invoice_number": "1001",
        "invoice_date": "2026-11-20",
        "due_date": "2026-12-20",
        "lines": [
            {
                "product_id": "P-TENT",
                "quantity": "1",
                "rate": "450.00",
                "amount": "450.00",
                "rental_period": {"start": "2026-11-27", "end": "2026-11-29"},
            },
        ],
        "fees": [{"product_id": "P-DELIVERY", "quantity": "1", "rate": "75.00", "amount": "75.00"}],
        "discounts": [{"amount": "25.00", "description": "Returning customer"}],
        "tax_rate_id": "3",
        "totals": {"subtotal": "525.00", "discount": "25.00", "tax": "41.25", "total": "541.25"},
        "version": 4,
    },
    syncs_on_every_change=True,
    handler=InvoiceKind,
    # An order's plan needs the products' mapping and the invoice mapping (`sync.bulk` runs
    # them, as the job does); its costs and its kind are here.
    bulk=bulk.BulkRule(
        selected_as=bulk.BulkKind.ORDER, create=bulk.INVOICE_CREATE, update=bulk.INVOICE_UPDATE
    ),
    listing=Listing(
        title="Invoice",
        number=("invoice_number",),
        date=("invoice_date",),
        amount=("totals", "total"),
        party=party((DocumentType.CUSTOMER, "customer_id")),
        compared=compare(
            ("Total", ("totals", "total"), ("TotalAmt",)),
            ("Tax", ("totals", "tax"), ("TxnTaxDetail", "TotalTax")),
        ),
    ),
)
