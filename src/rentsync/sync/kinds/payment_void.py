"""A payment's void -> the QBO Payment voided (R4, R15: 5 attempts, the seed's "void payment
has more"). A part of its payment's document (same id), stored when the payment arrives
voided and run under its order's lock after the payment's own job; its refunds are deleted
from QBO as parts the voided payment no longer has.

    policy (as the payment's) -> the payment's QBO Id from its ledger row (never in QBO:
    nothing to void) -> read it: already voided (an earlier answer was lost) is done ->
    `POST /payment?operation=update&include=void` (a stale SyncToken re-read once) ->
    read-back (the invoice's Balance is back) -> ledger
QBO cannot undo a void: a payment un-voided in the rental system is reported, not re-sent.
"""

from __future__ import annotations

from typing import Any

from rentsync.domain import bulk
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.listing import Listing, party
from rentsync.domain.payments import Payment
from rentsync.mapping.common import has_marker
from rentsync.mapping.errors import MappingError, MappingProblem
from rentsync.mapping.idempotency import Operation, write_request_id
from rentsync.mapping.payment import payment_marker
from rentsync.qbo import errors
from rentsync.sync.kinds.base import Engine, KindSpec, Run
from rentsync.sync.kinds.payment import PAYMENT, PaymentContext, after_payment, plan_after_order
from rentsync.sync.ports import QboGateway, Written
from rentsync.sync.references import References


def void_part(key: DocumentKey, body: dict[str, Any]) -> tuple[DocumentKey, dict[str, Any]]:
    return (
        DocumentKey(key.company_id, DocumentType.PAYMENT_VOID, key.source_id),
        {"payment_id": key.source_id, "order_id": body["order_id"]},
    )


def is_voided(payment: dict[str, Any]) -> bool:
    note = payment.get("PrivateNote")
    return isinstance(note, str) and note.startswith("Voided")


class PaymentVoidHandler:
    def __init__(self, engine: Engine, references: References) -> None:
        self._engine = engine
        self._ctx = PaymentContext(engine, references)

    async def sync(self, run: Run) -> str:
        engine, key = self._engine, run.key
        body = run.document.body or {}
        company = await engine.qbo.open(key.company_id)
        order = await self._ctx.order(key.company_id, str(body["order_id"]))
        payment_key = DocumentKey(key.company_id, DocumentType.PAYMENT, str(body["payment_id"]))
        payment_record = await engine.ledger.get(payment_key)
        await engine.not_behind(run, payment_key, payment_record)
        invoice = await self._ctx.skip_unless_ready(
            run, company, order, in_qbo=bool(payment_record and payment_record.qbo_id)
        )
        if invoice is None:
            return "skipped"
        assert order is not None and invoice.qbo_id is not None
        if payment_record is None or not payment_record.qbo_id:
            await engine.synced(run, "nothing to void: the payment never reached QuickBooks")
            return "synced"
        client = engine.client_for(run, company)
        current = await client.read(PAYMENT, payment_record.qbo_id)
        if not has_marker(current.data.get("PrivateNote"), payment_marker(payment_key)):
            raise errors.BadReference(
                f"QuickBooks Payment {current.id} is not payment {payment_key.source_id!r}",
                code="610",
            )
        voided = current if is_voided(current.data) else await self._void(run, client, current)
        snapshot = await engine.documents.get(payment_key)
        this = Payment.model_validate(snapshot.body) if snapshot and snapshot.body else None
        await self._ctx.read_back(run, client, order, invoice.qbo_id, this=this)
        await engine.synced(
            run,
            "voided in QuickBooks",
            {
                "qbo_entity": PAYMENT,
                "qbo_id": voided.id,
                "sync_token": voided.sync_token,
                "synced_hash": "voided",
            },
        )
        return "synced"

    async def _void(self, run: Run, client: QboGateway, current: Written) -> Written:
        try:
            return await client.void(
                PAYMENT, current.id, current.sync_token, requestid=self._id(run, current)
            )
        except errors.Locked as stale:
            if stale.code != "5010":
                raise
            fresh = await client.read(PAYMENT, current.id)
            if is_voided(fresh.data):
                return fresh
            return await client.void(
                PAYMENT, fresh.id, fresh.sync_token, requestid=self._id(run, fresh)
            )

    @staticmethod
    def _id(run: Run, current: Written) -> str:
        return write_request_id(
            run.key,
            Operation.VOID,
            content_hash="void",
            base_sync_token=current.sync_token,
            generation=run.record.write_generation,
        )

    async def remove(self, run: Run) -> str:
        if run.record.qbo_id:
            raise MappingError(
                MappingProblem.PAYMENT_VOIDED,
                "The payment is voided in QuickBooks, which cannot undo a void",
                field="voided",
                remedy=(
                    "Record the payment again as a new payment in the rental system (a new id); "
                    "the voided one stays in QuickBooks for the audit trail."
                ),
            )
        await self._engine.synced(run, "not voided")
        return "synced"


def _bulk_plan(facts: bulk.Facts) -> bulk.Plan | None:
    """As its job: the order's rules; a payment never in QuickBooks has nothing to void."""
    waits = plan_after_order(facts, copy="void")
    if waits is not None:
        return waits
    payment = facts.others.get(after_payment(facts.document.key, facts.document.body or {})[1])
    if payment is None or payment.qbo_id is None:
        return bulk.VOIDED_BEFORE_SENT
    return None


BULK = bulk.BulkRule(
    selected_as=bulk.BulkKind.PAYMENT,
    # The payment read, the void, the read-back of the invoice's balance: single requests.
    create=bulk.BulkCost(single=3),
    update=bulk.BulkCost(single=3),
    depends_on=after_payment,
    plan=_bulk_plan,
)

KIND = KindSpec(
    doc_type=DocumentType.PAYMENT_VOID,
    plural="payment-voids",
    model=Payment,
    example={},
    syncs_on_every_change=True,
    max_attempts=5,
    handler=PaymentVoidHandler,
    ingest=False,
    bulk=BULK,
    listing=Listing(
        title="Payment void",
        number=("payment_id",),
        party=party((DocumentType.ORDER, "order_id"), (DocumentType.CUSTOMER, "customer_id")),
    ),
)
