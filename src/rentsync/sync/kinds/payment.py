"""Customer payments -> QBO Payment linked to the order's invoice (R4, R11, R12, R15, B1, B2).

    policy (`policy.decide_payment`: No QuickBooks wins, always; the connection)
      -> dependencies: the order's invoice in QBO (else skipped "waiting for the invoice"; the
         order's sync schedules its waiting payments once the invoice is there), the customer,
         the payment method (found by name or created once), for credit applied the
         customer's open credit memos
      -> mapping (`rentsync.mapping.payment`) -> nothing to write if QBO holds this version
      -> write through the `TransactionWriter` (found again by CustomerRef + marker)
      -> read-back: the invoice's Balance in QBO against the rental system's balance due
      -> ledger
A payment's jobs take its order's lock (`KindSpec.follows`), so it never overtakes its invoice.
Its refunds and its void are parts (`refund.py`, `payment_void.py`), each its own document.
A payment deleted in the rental system is deleted in QBO.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

from rentsync import policy
from rentsync.domain import bulk
from rentsync.domain.documents import DocumentType, Order
from rentsync.domain.ledger import DocumentKey, SkipReason, WriteIntent
from rentsync.domain.listing import Listing, compare, party
from rentsync.domain.payments import Payment, PaymentKind, PaymentMethod, balance_due
from rentsync.mapping import payment as payment_mapping
from rentsync.mapping.fingerprint import fingerprint
from rentsync.qbo import errors
from rentsync.qbo.requestid import request_id
from rentsync.sync.failures import VerificationFailed
from rentsync.sync.kinds.base import Engine, KindSpec, Run
from rentsync.sync.known_ids import Scope
from rentsync.sync.ports import CompanyQbo, LedgerRow, QboGateway, Written
from rentsync.sync.references import ReferenceContext, References
from rentsync.sync.verify import verify_balance, verify_balance_range
from rentsync.sync.writer import CLEARED, Transaction, TransactionWriter, qbo_columns

PAYMENT = "Payment"
INVOICE = "Invoice"
PAYMENT_METHOD = "PaymentMethod"
T = TypeVar("T")


def order_key(company_id: int, order_id: str) -> DocumentKey:
    return DocumentKey(company_id, DocumentType.ORDER, order_id)


def _scope(run: Run, company: CompanyQbo) -> Scope:
    """What a kept Id holds for: the company and its current connection."""
    return (run.key.company_id, company.connection.connected_at)


class PaymentContext:
    """What a payment, refund or void job reads before writing: its order, its invoice, the
    decision. Shared by the three kinds."""

    def __init__(self, engine: Engine, references: References) -> None:
        self.engine = engine
        self.references = references

    async def order(self, company_id: int, order_id: str) -> Order | None:
        document = await self.engine.documents.get(order_key(company_id, order_id))
        if document is None or document.body is None:
            return None
        return Order.model_validate(document.body)

    async def skip_unless_ready(
        self, run: Run, company: CompanyQbo, order: Order | None, *, in_qbo: bool
    ) -> LedgerRow | None:
        """The order's ledger row when the payment may be written now; otherwise the skip is
        recorded and None returned."""
        decision = policy.decide_payment(order, company.connection, in_qbo=in_qbo)
        if isinstance(decision, policy.Skip):
            await self.engine.skipped(run, reason=decision.reason.value, message=decision.message)
            return None
        assert order is not None
        key = order_key(run.key.company_id, _order_id(run))
        record = await self.engine.ledger.get(key)
        await self.engine.not_behind(run, key, record)
        if record is None or not record.qbo_id:
            state = record.state if record is not None else "not received"
            await self.engine.skipped(
                run,
                reason=SkipReason.INVOICE_NOT_IN_QBO.value,
                message=(
                    f"{SkipReason.INVOICE_NOT_IN_QBO.message} Order {key.source_id!r} is "
                    f"{state}; this is sent once its invoice is synced."
                ),
            )
            return None
        return record

    async def customer_id(
        self, company: CompanyQbo, client: QboGateway, run: Run, order: Order
    ) -> str:
        settings = await self.engine.settings.get(run.key.company_id)
        ctx = ReferenceContext(
            company_id=run.key.company_id,
            client=client,
            accounts=settings.accounts,
            inventory_allowed=company.inventory_allowed,
            generation=run.record.write_generation,
        )
        return await self.references.customer_id(ctx, order.customer_id)

    async def item_id(
        self, company: CompanyQbo, client: QboGateway, run: Run, product_id: str
    ) -> str:
        settings = await self.engine.settings.get(run.key.company_id)
        ctx = ReferenceContext(
            company_id=run.key.company_id,
            client=client,
            accounts=settings.accounts,
            inventory_allowed=company.inventory_allowed,
            generation=run.record.write_generation,
        )
        return await self.references.item_id(ctx, product_id)

    async def method_id(
        self,
        run: Run,
        company: CompanyQbo,
        client: QboGateway,
        method: PaymentMethod | None,
        *,
        replacing: str | None = None,
    ) -> str | None:
        """The QBO PaymentMethod: the Id this process keeps for it (`KnownIds`), else one of
        QBO's by name, or created once (under a lock, found again first; a deterministic
        requestid makes a retried create a replay). `replacing`: the Id QBO said is gone."""
        if method is None:
            return None
        name, kind = payment_mapping.METHOD_NAMES[method]
        return await self.engine.known_ids.resolve(
            _scope(run, company),
            PAYMENT_METHOD,
            name,
            lambda: self._resolve_method(
                run.key.company_id, client, name, kind, replacing=replacing
            ),
        )

    async def with_method(
        self,
        run: Run,
        company: CompanyQbo,
        client: QboGateway,
        method: PaymentMethod | None,
        write: Callable[[str | None], Awaitable[T]],
    ) -> T:
        """`write` with the method's QBO Id. When QBO answers that something the write refers
        to is missing or inactive, the kept Id may be what is gone (a bookkeeper deleted the
        method: QBO makes it inactive): it is dropped and the name resolved again; with a
        different Id, `write` runs once more, otherwise the answer was about something else
        and stands."""
        method_id = await self.method_id(run, company, client, method)
        try:
            return await write(method_id)
        except errors.BadReference:
            if method is None or method_id is None:
                raise
            name = payment_mapping.METHOD_NAMES[method][0]
            self.engine.known_ids.drop(_scope(run, company), PAYMENT_METHOD, name, method_id)
            again = await self.method_id(run, company, client, method, replacing=method_id)
            if again == method_id:
                raise
            return await write(again)

    async def _resolve_method(
        self, company_id: int, client: QboGateway, name: str, kind: str, *, replacing: str | None
    ) -> str:
        found = await client.find_by(PAYMENT_METHOD, "Name", name)
        if found:
            return str(found[0]["Id"])
        locks = self.engine.locks
        assert locks is not None, "the engine is wired with locks (bootstrap)"
        async with locks.hold(f"c{company_id}:payment_method:{name}"):
            found = await client.find_by(PAYMENT_METHOD, "Name", name)
            if found:
                return str(found[0]["Id"])
            created = await client.create(
                PAYMENT_METHOD,
                {"Name": name, "Type": kind},
                # The same requestid would replay the first create's answer: the method QBO
                # now says is gone. Its replacement's create names what it replaces.
                requestid=request_id(
                    company_id, f"payment_method:{name}", replacing or "v1", "create"
                ),
            )
            return created.id

    async def expected_balance(
        self, run: Run, order: Order, *, this: Payment | None = None
    ) -> Decimal:
        """The rental system's balance due as far as QBO should know it: the order's total less
        its payments that QBO holds (and `this` one, just written), voided ones excepted."""
        lock = order_key(run.key.company_id, _order_id(run)).lock()
        members = await self.engine.documents.group(run.key.company_id, lock, DocumentType.PAYMENT)
        payments = [
            Payment.model_validate(member.body)
            for member in members
            if member.qbo_id and (this is None or member.source_id != run.key.source_id)
        ]
        if this is not None:
            payments.append(this)
        return balance_due(order.totals.total, payments)

    async def read_back(
        self,
        run: Run,
        client: QboGateway,
        order: Order,
        invoice_id: str,
        *,
        this: Payment | None = None,
        qbo: dict[str, Any] | None = None,
    ) -> None:
        """B2: the invoice's Balance in QBO equals the rental system's balance due.

        Exact once the order's documents are settled: while the order or another of its
        payments, refunds or voids still has a job to run (queued behind this one), QBO cannot
        hold the final figure yet, so only 0 <= Balance <= TotalAmt is checked here; the last
        job of the order compares exactly."""
        invoice = await client.read(INVOICE, invoice_id)
        lead = order_key(run.key.company_id, _order_id(run))
        if await self.engine.documents.others_pending(lead, run.key):
            mismatch = verify_balance_range(invoice.data)
        else:
            expected = await self.expected_balance(run, order, this=this)
            mismatch = verify_balance(expected, invoice.data)
        if mismatch is not None:
            raise VerificationFailed(
                mismatch.code,
                mismatch.message,
                detail=(
                    f"Invoice {order.invoice_number}: QuickBooks has a balance of "
                    f"{mismatch.actual}, the rental system {mismatch.expected}."
                ),
                remedy=mismatch.remedy,
                qbo=qbo,
            )


def _parts_waiting(run: Run, payment: Payment) -> tuple[str, tuple[DocumentType, ...]]:
    """The payment is in QBO: the refunds (and a void) that waited for it, or failed, run now
    under the order's lock, after this job (scheduled with the ledger's outcome). A resync of a
    payment that had failed would otherwise leave its refunds waiting for good."""
    lock = order_key(run.key.company_id, payment.order_id).lock()
    return lock, (DocumentType.REFUND, DocumentType.PAYMENT_VOID)


def _order_id(run: Run) -> str:
    body = run.document.body or {}
    return str(body["order_id"])


class PaymentHandler:
    def __init__(self, engine: Engine, references: References) -> None:
        self._engine = engine
        self._ctx = PaymentContext(engine, references)
        self._writer = TransactionWriter(engine.ledger)

    async def sync(self, run: Run) -> str:
        engine, key, record = self._engine, run.key, run.record
        payment = Payment.model_validate(run.document.body)
        company = await engine.qbo.open(key.company_id)
        order = await self._ctx.order(key.company_id, payment.order_id)
        invoice = await self._ctx.skip_unless_ready(
            run, company, order, in_qbo=record.qbo_id is not None
        )
        if invoice is None:
            return "skipped"
        assert order is not None and invoice.qbo_id is not None
        if payment.voided and not record.write_intent:
            # The void is its own document (`payment_void`), retried on its own (R15); a voided
            # payment is never changed in QBO.
            outcome = "voided (see its void)" if record.qbo_id else "voided before it was sent"
            await engine.synced(run, outcome)
            return "synced"
        client = engine.client_for(run, company)
        settings = await engine.settings.get(key.company_id)
        customer_id = await self._ctx.customer_id(company, client, run, order)
        invoice_id = invoice.qbo_id

        async def write(method_id: str | None) -> tuple[Written, str] | None:
            """The payment written with `method_id`, and its digest; None: QBO holds it."""
            refs = payment_mapping.PaymentRefs(
                customer_id=customer_id,
                invoice_id=invoice_id,
                deposit_account_id=settings.accounts.deposit,
                method_id=method_id,
            )
            # The content rentsync owns; for credit applied, the memos it draws on are chosen
            # at write time and left out (they change as credit is used).
            digest = fingerprint(payment_mapping.payment_create(payment, refs, key=key))
            if record.qbo_id and record.synced_hash == digest:
                return None
            find = WriteIntent(entity=PAYMENT, field="CustomerRef", value=customer_id)
            marker = payment_mapping.payment_marker(key)
            if payment.kind is PaymentKind.CREDIT_APPLIED:
                refs = await self._with_credit(run, client, payment, order, refs, find, marker)
            written = await self._writer.write(
                run,
                client,
                Transaction(
                    entity=PAYMENT,
                    create=payment_mapping.payment_create(payment, refs, key=key),
                    update=lambda qbo_id, token: payment_mapping.payment_update(
                        payment, refs, key=key, qbo_id=qbo_id, sync_token=token
                    ),
                    find=find,
                    marker=marker,
                    content_hash=digest,
                    find_before_create=True,
                ),
            )
            return written, digest

        result = await self._ctx.with_method(run, company, client, payment.method, write)
        waiting = _parts_waiting(run, payment)
        if result is None:
            await engine.synced(run, "unchanged", release=waiting)
            return "unchanged"
        written, digest = result
        await self._ctx.read_back(
            run,
            client,
            order,
            invoice.qbo_id,
            this=payment,
            qbo=qbo_columns(PAYMENT, written, None),
        )
        await engine.synced(run, "synced", qbo_columns(PAYMENT, written, digest), release=waiting)
        return "synced"

    async def _with_credit(
        self,
        run: Run,
        client: QboGateway,
        payment: Payment,
        order: Order,
        refs: payment_mapping.PaymentRefs,
        find: WriteIntent,
        marker: str,
    ) -> payment_mapping.PaymentRefs:
        """Credit applied: the customer's open credit memos, oldest first, counting what this
        payment already draws from them in QBO (an update, or a create whose answer was lost)."""
        own: dict[str, Decimal] = {}
        current = None
        if run.record.qbo_id:
            current = (await client.read(PAYMENT, run.record.qbo_id)).data
        elif run.record.write_intent:
            found = await self._writer.find(run, client, find, marker=marker)
            current = found.data if found is not None else None
        for line in (current or {}).get("Line", []) or []:
            for linked in line.get("LinkedTxn", []) or []:
                if linked.get("TxnType") == "CreditMemo":
                    memo = str(linked["TxnId"])
                    own[memo] = own.get(memo, Decimal(0)) + Decimal(str(line.get("Amount", 0)))
        memos = await client.query_all(
            "CreditMemo", f"CustomerRef = '{refs.customer_id}'", order_by="TxnDate"
        )
        open_credits = [
            (
                str(memo["Id"]),
                Decimal(str(memo.get("Balance") or 0)) + own.get(str(memo["Id"]), Decimal(0)),
            )
            for memo in memos
        ]
        credits = payment_mapping.allocate_credit(
            payment.amount,
            [(memo_id, available) for memo_id, available in open_credits if available > 0],
            customer=order.customer_id,
        )
        return payment_mapping.PaymentRefs(
            customer_id=refs.customer_id,
            invoice_id=refs.invoice_id,
            deposit_account_id=refs.deposit_account_id,
            method_id=refs.method_id,
            credits=tuple(credits),
        )

    async def remove(self, run: Run) -> str:
        company = await self._engine.qbo.open(run.key.company_id)
        deleted = await self._writer.delete(
            run, company.client, PAYMENT, payment_mapping.payment_marker(run.key)
        )
        if not deleted:
            await self._engine.synced(run, "deleted: never in QuickBooks")
            return "deleted"
        await self._engine.synced(run, "deleted in QuickBooks", CLEARED)
        return "deleted"


def _follows(key: DocumentKey, body: dict[str, Any]) -> DocumentKey:
    return order_key(key.company_id, str(body["order_id"]))


def plan_after_order(facts: bulk.Facts, *, copy: str = "payment") -> bulk.Plan | None:
    """A bulk sync's plan for a payment, refund or void as its job would decide (the same
    policy): No QuickBooks on the order wins; then it waits for the order's invoice, which must
    be in QuickBooks or written by the run before it."""
    body = facts.document.body or {}
    lead = order_key(facts.document.key.company_id, str(body["order_id"]))
    stored = facts.others.get(lead)
    order = Order.model_validate(stored.body) if stored is not None and stored.body else None
    decision = policy.decide_payment(
        order, facts.connection, in_qbo=facts.document.qbo_id is not None
    )
    if isinstance(decision, policy.Skip):
        return bulk.Plan(
            planned=bulk.Planned.SKIP, reason=decision.reason.value, message=decision.message
        )
    waiting = facts.ready(lead)
    if waiting is not None:
        return bulk.Plan(
            planned=bulk.Planned.SKIP,
            reason=SkipReason.INVOICE_NOT_IN_QBO.value,
            message=(
                f"{SkipReason.INVOICE_NOT_IN_QBO.message} Order {lead.source_id!r} is "
                f"{waiting}; this {copy} is sent once its invoice is synced."
            ),
        )
    return None


def _bulk_plan(facts: bulk.Facts) -> bulk.Plan | None:
    waits = plan_after_order(facts)
    if waits is not None:
        return waits
    if (facts.document.body or {}).get("voided"):
        if facts.document.qbo_id is None:
            return bulk.VOIDED_BEFORE_SENT
        # Its void does the work (`payment_void`); the payment itself sends nothing.
        return bulk.Plan(planned=bulk.Planned.UPDATE)
    return None


def _after_order(key: DocumentKey, body: dict[str, Any]) -> list[DocumentKey]:
    return [_follows(key, body)]


def after_payment(key: DocumentKey, body: dict[str, Any]) -> list[DocumentKey]:
    """What a refund or a void depends on: its order, then its payment."""
    return [
        order_key(key.company_id, str(body["order_id"])),
        DocumentKey(key.company_id, DocumentType.PAYMENT, str(body["payment_id"])),
    ]


BULK = bulk.BulkRule(
    selected_as=bulk.BulkKind.PAYMENT,
    # The look-up before the create (B1), the create; then the read-back of the invoice's
    # balance. The method's Id is resolved once per process and company (`KnownIds`), not
    # per payment: not counted.
    create=bulk.BulkCost(batched=2, single=1),
    update=bulk.BulkCost(single=2),
    depends_on=_after_order,
    plan=_bulk_plan,
)


def _parts(key: DocumentKey, body: dict[str, Any]) -> list[tuple[DocumentKey, dict[str, Any]]]:
    """A voided payment's refunds are removed from QBO with it; a void is its own part."""
    from rentsync.sync.kinds.payment_void import void_part
    from rentsync.sync.kinds.refund import refund_parts

    if body.get("voided"):
        return [void_part(key, body)]
    return refund_parts(key, body)


KIND = KindSpec(
    doc_type=DocumentType.PAYMENT,
    plural="payments",
    model=Payment,
    example={
        "order_id": "R-1001",
        "kind": "payment",
        "amount": "200.00",
        "date": "2026-11-21",
        "method": "card",
        "reference_number": "AUTH-55821",
        "refunds": [
            {
                "id": "RF-1",
                "amount": "50.00",
                "date": "2026-11-30",
                "method": "card",
                "reason": "One table returned unused",
            }
        ],
        "voided": False,
        "version": 3,
    },
    syncs_on_every_change=True,
    max_attempts=2,
    handler=PaymentHandler,
    follows=_follows,
    parts=_parts,
    part_types=(DocumentType.REFUND, DocumentType.PAYMENT_VOID),
    bulk=BULK,
    listing=Listing(
        title="Payment",
        number=("reference_number",),
        date=("date",),
        amount=("amount",),
        party=party((DocumentType.ORDER, "order_id"), (DocumentType.CUSTOMER, "customer_id")),
        compared=compare(("Amount", ("amount",), ("TotalAmt",)), unless=("voided",)),
    ),
)
