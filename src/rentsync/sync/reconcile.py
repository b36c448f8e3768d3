"""reconcile(document key): make QuickBooks match the newest snapshot, then record the outcome.

    policy (sync or skip, with the reason)
      -> references (customer and items, found or created once)
      -> mapping (the invoice payload)        -> nothing to write if QBO holds this version
      -> write (create / sparse update / delete) with a deterministic requestid
      -> read-back verification (B2)
      -> ledger (what QBO holds; the outcome; the history)

Requestids (B1): a retry after an uncertain outcome sends the same id, so QBO replays the first
answer instead of writing twice; after a definite refusal (which QBO may also replay) the next
try is a new write, so the id carries the ledger's count of definite refusals
(`write_generation`).

A failure is recorded with its code, message and remedy; the pure retry table decides whether
the job runs again (RetryLater) or the document is marked failed until someone fixes the cause.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rentsync import policy
from rentsync.domain.clock import utcnow
from rentsync.domain.documents import DocumentType, Order
from rentsync.domain.ledger import DocumentKey, SkipReason, SyncState, WriteIntent
from rentsync.domain.triggers import Trigger
from rentsync.mapping import invoice as invoice_mapping
from rentsync.mapping.errors import MappingError
from rentsync.mapping.fingerprint import fingerprint
from rentsync.mapping.idempotency import Operation, write_request_id
from rentsync.qbo import errors
from rentsync.sync import retry
from rentsync.sync.failures import RetryLater, VerificationFailed, describe
from rentsync.sync.ports import (
    CompanyQbo,
    CompanySettings,
    Documents,
    Ledger,
    LedgerRow,
    QboAccess,
    QboGateway,
    StoredDocumentView,
    Written,
)
from rentsync.sync.references import ReferenceContext, References
from rentsync.sync.verify import verify_invoice

log = logging.getLogger(__name__)

INVOICE = "Invoice"
_SYNCABLE = (errors.QboError, MappingError, VerificationFailed)


class Reconciler:
    def __init__(
        self,
        *,
        documents: Documents,
        ledger: Ledger,
        settings: CompanySettings,
        qbo: QboAccess,
        references: References,
        rules: dict[DocumentType, retry.RetryRule],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._documents = documents
        self._ledger = ledger
        self._settings = settings
        self._qbo = qbo
        self._references = references
        self._rules = rules
        self._clock = clock

    async def reconcile(self, key: DocumentKey) -> str:
        """Run one reconciliation; returns the outcome, raises RetryLater to run again."""
        started = self._clock()
        document, record = await self._ledger.get_with_document(key)
        if document is None or record is None:
            return "nothing_to_do"  # the company or document was removed meanwhile
        try:
            if key.doc_type is DocumentType.ORDER:
                return await self._reconcile_order(key, document, record, started)
            return await self._reconcile_reference(key, document, record, started)
        except _SYNCABLE as error:
            return await self._failed(key, document, record, started, error)

    # --- orders -----------------------------------------------------------------------------

    async def _reconcile_order(
        self, key: DocumentKey, document: StoredDocumentView, record: LedgerRow, started: datetime
    ) -> str:
        company = await self._qbo.open(key.company_id)
        if document.deleted:
            return await self._delete_invoice(key, document, record, company, started)
        order = Order.model_validate(document.body)
        settings = await self._settings.get(key.company_id)
        decision = policy.decide(
            order,
            settings,
            company.connection,
            trigger=Trigger(record.trigger),
            first_seen_at=document.first_seen_at,
            last_user_action_at=record.last_user_action_at,
            in_qbo=record.qbo_id is not None,
        )
        if isinstance(decision, policy.Skip):
            await self._ledger.record(
                key,
                state=SyncState.SKIPPED,
                revision=document.revision,
                started_at=started,
                outcome=decision.message,
                skip_reason=decision.reason.value,
            )
            return "skipped"
        client = self._client(company)
        references = [DocumentKey(key.company_id, DocumentType.CUSTOMER, order.customer_id)] + [
            DocumentKey(key.company_id, DocumentType.PRODUCT, pid) for pid in order.product_ids()
        ]
        ctx = ReferenceContext(
            company_id=key.company_id,
            client=client,
            accounts=settings.accounts,
            inventory_allowed=company.inventory_allowed,
            snapshots=await self._documents.get_many(references),
            records=await self._ledger.get_many(references),
            generation=record.write_generation,
        )
        self._references.check_items(ctx, order.product_ids())
        customer_id = await self._references.customer_id(ctx, order.customer_id)
        item_ids = {pid: await self._references.item_id(ctx, pid) for pid in order.product_ids()}
        tax_code_id = await self._tax_code(key.company_id, order)
        refs = invoice_mapping.InvoiceRefs(
            customer_id=customer_id,
            item_ids=item_ids,
            tax_code_id=tax_code_id,
            automated_sales_tax=company.automated_sales_tax,
        )
        payload = invoice_mapping.invoice_create(order, refs, key=key)
        digest = fingerprint(payload)
        if record.qbo_id and record.synced_hash == digest:
            await self._synced(key, document, started, "unchanged", None)
            return "unchanged"
        written = await self._write_invoice(key, order, refs, record, client, payload, digest)
        qbo: dict[str, str | None] = {
            "qbo_entity": INVOICE,
            "qbo_id": written.id,
            "sync_token": written.sync_token,
            "synced_hash": digest,
        }
        mismatches = verify_invoice(order, written.data)
        if mismatches:
            first = mismatches[0]
            # QBO holds the invoice now: remember it (the next attempt updates, never duplicates)
            # but not the hash, so a Resync writes again.
            qbo["synced_hash"] = None
            await self._failed(
                key,
                document,
                record,
                started,
                VerificationFailed(
                    first.code, first.message, detail=first.detail, remedy=first.remedy
                ),
                qbo=qbo,
            )
            return "failed"
        await self._synced(key, document, started, "synced", qbo)
        return "synced"

    async def _write_invoice(
        self,
        key: DocumentKey,
        order: Order,
        refs: invoice_mapping.InvoiceRefs,
        record: LedgerRow,
        client: QboGateway,
        payload: dict[str, Any],
        digest: str,
    ) -> Written:
        if record.qbo_id and record.sync_token:
            update = invoice_mapping.invoice_update(
                order, refs, key=key, qbo_id=record.qbo_id, sync_token=record.sync_token
            )
            try:
                return await client.sparse_update(
                    INVOICE,
                    update,
                    requestid=_update_id(key, digest, record.sync_token, record.write_generation),
                )
            except errors.Locked as stale:
                if stale.code != "5010":
                    raise
                # Someone edited it in QBO: take the current SyncToken and write our version.
                current = await client.read(INVOICE, record.qbo_id)
                update["SyncToken"] = current.sync_token
                return await client.sparse_update(
                    INVOICE,
                    update,
                    requestid=_update_id(key, digest, current.sync_token, record.write_generation),
                )
        if record.write_intent:
            # An earlier create's outcome is unknown (lost answer, killed worker): find what it
            # wrote by the number it was sent with (the order's number may have changed since).
            intent = WriteIntent.from_json(record.write_intent)
            adopted = await self._find_written(key, client, intent.value)
            if adopted is not None:
                return await self._bring_up_to_date(
                    key, order, refs, record, client, adopted, digest
                )
        await self._ledger.intend(
            key, WriteIntent(entity=INVOICE, field="DocNumber", value=order.invoice_number)
        )
        try:
            return await client.create(
                INVOICE,
                payload,
                requestid=write_request_id(
                    key, Operation.CREATE, content_hash=digest, generation=record.write_generation
                ),
            )
        except errors.DuplicateDocNumber:
            # The number may be taken by our own invoice, written by an earlier attempt whose
            # outcome the ledger lost (or restored from a backup): adopt it rather than fail.
            adopted = await self._find_written(key, client, order.invoice_number)
            if adopted is None:
                await self._ledger.intend(key, None)  # refused: nothing was written
                raise
            return await self._bring_up_to_date(key, order, refs, record, client, adopted, digest)
        except errors.QboError as error:
            if retry.kind_of(error) is not retry.Kind.TRANSIENT:
                await self._ledger.intend(key, None)  # refused: nothing was written
            raise

    async def _bring_up_to_date(
        self,
        key: DocumentKey,
        order: Order,
        refs: invoice_mapping.InvoiceRefs,
        record: LedgerRow,
        client: QboGateway,
        adopted: Written,
        digest: str,
    ) -> Written:
        """Our invoice found in QBO, maybe of an older version of the order (it changed since the
        lost answer): write this version over it, or verification would fail on old figures."""
        update = invoice_mapping.invoice_update(
            order, refs, key=key, qbo_id=adopted.id, sync_token=adopted.sync_token
        )
        return await client.sparse_update(
            INVOICE,
            update,
            requestid=_update_id(key, digest, adopted.sync_token, record.write_generation),
        )

    async def _find_written(
        self, key: DocumentKey, client: QboGateway, doc_number: str
    ) -> Written | None:
        """The invoice an earlier attempt may have created, by its natural key (DocNumber) and
        our marker, so a retry never posts it twice nor a delete forgets it (B1)."""
        found = await client.find_by_doc_number(INVOICE, doc_number)
        marker = invoice_mapping.invoice_marker(key)
        if found is None or marker not in str(found.get("PrivateNote") or ""):
            return None
        return await client.read(INVOICE, str(found["Id"]))

    async def _delete_invoice(
        self,
        key: DocumentKey,
        document: StoredDocumentView,
        record: LedgerRow,
        company: CompanyQbo,
        started: datetime,
    ) -> str:
        qbo_id, sync_token = record.qbo_id, record.sync_token
        if not qbo_id and record.write_intent:
            # A create whose outcome is unknown may have written the invoice: look before
            # saying it was never in QuickBooks.
            intent = WriteIntent.from_json(record.write_intent)
            found = await self._find_written(key, self._client(company), intent.value)
            if found is None:
                await self._ledger.intend(key, None)
            else:
                qbo_id, sync_token = found.id, found.sync_token
        if not qbo_id or not sync_token:
            await self._synced(key, document, started, "deleted: never in QuickBooks", None)
            return "deleted"
        client = self._client(company)
        generation = record.write_generation
        try:
            await client.delete(
                INVOICE, qbo_id, sync_token, requestid=_delete_id(key, sync_token, generation)
            )
        except errors.BadReference:
            pass  # already gone from QBO (610): the goal is reached
        except errors.Locked as stale:
            if stale.code != "5010":
                raise  # in use by another user: retried later, with a new requestid
            # Someone edited it in QBO since: delete the current version.
            current = await client.read(INVOICE, qbo_id)
            await client.delete(
                INVOICE,
                qbo_id,
                current.sync_token,
                requestid=_delete_id(key, current.sync_token, generation),
            )
        cleared = {"qbo_entity": None, "qbo_id": None, "sync_token": None, "synced_hash": None}
        await self._synced(key, document, started, "deleted in QuickBooks", cleared)
        return "deleted"

    async def _tax_code(self, company_id: int, order: Order) -> str | None:
        if order.tax_rate_id is None:
            return None
        rates = await self._settings.tax_rates(company_id)
        return order.tax_rate_id if any(r.qbo_id == order.tax_rate_id for r in rates) else None

    # --- customers and products -------------------------------------------------------------

    async def _reconcile_reference(
        self, key: DocumentKey, document: StoredDocumentView, record: LedgerRow, started: datetime
    ) -> str:
        """A customer or product changed, or an order's create of it may have been lost: settle
        that and bring QBO's record to the current revision. (One not yet in QBO is created by
        the first order that needs it.)"""
        company = await self._qbo.open(key.company_id)
        settings = await self._settings.get(key.company_id)
        ctx = ReferenceContext(
            company_id=key.company_id,
            client=self._client(company),
            accounts=settings.accounts,
            inventory_allowed=company.inventory_allowed,
            generation=record.write_generation,
        )
        qbo_id = await self._references.refresh(ctx, key)
        return "synced" if qbo_id else "not_synced"

    # --- outcomes ---------------------------------------------------------------------------

    @staticmethod
    def _client(company: CompanyQbo) -> QboGateway:
        if company.client is None:
            raise errors.NotConnected("QuickBooks is not connected")
        return company.client

    async def _synced(
        self,
        key: DocumentKey,
        document: StoredDocumentView,
        started: datetime,
        outcome: str,
        qbo: dict[str, Any] | None,
    ) -> None:
        await self._ledger.record(
            key,
            state=SyncState.SYNCED,
            revision=document.revision,
            started_at=started,
            outcome=outcome,
            qbo=qbo,
        )

    async def _failed(
        self,
        key: DocumentKey,
        document: StoredDocumentView,
        record: LedgerRow,
        started: datetime,
        error: Exception,
        *,
        qbo: dict[str, Any] | None = None,
    ) -> str:
        if isinstance(error, errors.NotConnected | errors.AuthRevoked):
            # The connection was lost during the run (e.g. the refresh token was revoked):
            # a skip with the reason, like any document while the connection is lost (R13).
            await self._ledger.record(
                key,
                state=SyncState.SKIPPED,
                revision=document.revision,
                started_at=started,
                outcome=f"skipped: {error}",
                skip_reason=SkipReason.CONNECTION_LOST.value,
                qbo=qbo,
            )
            return "skipped"
        now = self._clock()
        hint = error.retry_after if isinstance(error, errors.Throttled) else None
        decision = retry.decide(
            error,
            rule=self._rules[key.doc_type],
            attempts=record.attempts,
            failing_since=record.failing_since or now,
            now=now,
            server_hint=hint,
        )
        again = isinstance(decision, retry.RetryIn)
        detail = describe(error)
        if record.write_intent and retry.kind_of(error) is retry.Kind.TRANSIENT:
            # A create's outcome is still unknown (e.g. the lookup after the dropped answer got
            # a 5xx): keep the requestid, so the next try looks up again and resends the same
            # one (QBO replays it rather than creating the document a second time, B1).
            detail["outcome_uncertain"] = True
        log.info(
            "sync attempt failed",
            extra={
                "action": "sync.failed",
                "company_id": key.company_id,
                "doc_key": key.lock(),
                "code": detail["code"],
                "intuit_tid": detail["intuit_tid"],
                "retry": again,
            },
        )
        await self._ledger.record(
            key,
            state=SyncState.PENDING if again else SyncState.FAILED,
            revision=document.revision,
            started_at=started,
            outcome=f"{'retrying' if again else 'failed'}: {detail['code']}",
            error=detail,
            counts_as_attempt=decision.counts,
            qbo=qbo,
        )
        if isinstance(decision, retry.RetryIn):
            raise RetryLater(decision.seconds, error)
        return "failed"


def _update_id(key: DocumentKey, digest: str, sync_token: str, generation: int) -> str:
    return write_request_id(
        key,
        Operation.UPDATE,
        content_hash=digest,
        base_sync_token=sync_token,
        generation=generation,
    )


def _delete_id(key: DocumentKey, sync_token: str, generation: int) -> str:
    """A delete after a refusal is a new write (QBO replays a refusal for a reused id)."""
    return write_request_id(
        key,
        Operation.DELETE,
        content_hash="deleted",
        base_sync_token=sync_token,
        generation=generation,
    )
