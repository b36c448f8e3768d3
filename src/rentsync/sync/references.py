"""Name-list records a transaction needs (an invoice's customer and items), found or created in
QBO (R2, R9, R10). Each name-list kind declares its part (`NameListKind`) in `sync/kinds/`.

Each is created at most once per company, even with many orders in flight, lost answers and
killed workers:

- find-or-create runs under a cross-process lock on the referenced document, and re-reads the
  document and its ledger row under it (another job may have written a newer revision);
- before a create, the ledger notes how to find what it may write (`WriteIntent`) and defers
  the reference's own job, so an uncertain outcome is always settled: the record is found by
  that natural key and our marker, adopted, and brought to the current revision;
- a write of an older revision than the stored one leaves a job behind for the newer one.

An existing QBO record with the same name is reused only when it is safely the same one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, SyncState, WriteIntent
from rentsync.domain.settings import AccountMapping
from rentsync.mapping.common import Payload
from rentsync.mapping.errors import MappingError, MappingProblem
from rentsync.mapping.fingerprint import fingerprint
from rentsync.mapping.idempotency import Operation, write_request_id
from rentsync.qbo import errors
from rentsync.sync import retry
from rentsync.sync.ports import (
    Documents,
    Ledger,
    LedgerRow,
    Locks,
    QboGateway,
    StoredDocumentView,
    Written,
)
from rentsync.sync.updates import update_current


@dataclass(frozen=True, kw_only=True)
class ReferenceContext:
    company_id: int
    client: QboGateway
    accounts: AccountMapping
    inventory_allowed: bool
    snapshots: Mapping[DocumentKey, StoredDocumentView] = field(default_factory=dict)
    """The order's references as read in one round trip before resolving them (optional)."""
    records: Mapping[DocumentKey, LedgerRow] = field(default_factory=dict)
    generation: int = 0
    """The definite refusals so far of the job's document: a write after one gets a new
    requestid."""


@dataclass(frozen=True, kw_only=True)
class NameListRecord:
    """What QBO should hold for one customer, product, vendor, ...: its payload, how to find
    it by name, and whether a record found by that name may be taken as this one."""

    entity: str
    payload: Payload
    find: WriteIntent
    same_record: Callable[[dict[str, Any]], bool]
    update: Callable[[str, str], Payload]
    clash_remedy: str
    alternative: NameListRecord | None = None
    """The record under the stable suffixed name (`mapping.names`), used when QBO refuses the
    name because a record of another kind holds it (6240: customers, vendors and employees
    share one namespace)."""


@dataclass(frozen=True, kw_only=True)
class NameListKind:
    """A name-list kind's part in find-or-create, declared by the kind (`sync/kinds/`)."""

    doc_type: DocumentType
    entity: str
    record: Callable[[ReferenceContext, DocumentKey, dict[str, Any]], NameListRecord]
    """The record for a live snapshot's body."""
    ours: Callable[[ReferenceContext, DocumentKey, dict[str, Any]], bool]
    """Whether a QBO record found by the name an uncertain create was sent with is the one it
    wrote, when the snapshot is gone (deleted) and `NameListRecord.same_record` is unknown."""
    field: str
    """Where the QBO Id goes in an error about a missing one (e.g. `customer_id`)."""


class References:
    def __init__(
        self,
        *,
        documents: Documents,
        ledger: Ledger,
        locks: Locks,
        kinds: Mapping[DocumentType, NameListKind],
    ) -> None:
        self._documents = documents
        self._ledger = ledger
        self._locks = locks
        self._kinds = kinds

    async def customer_id(self, ctx: ReferenceContext, source_id: str) -> str:
        return await self.qbo_id(ctx, DocumentKey(ctx.company_id, DocumentType.CUSTOMER, source_id))

    async def item_id(self, ctx: ReferenceContext, source_id: str) -> str:
        return await self.qbo_id(ctx, DocumentKey(ctx.company_id, DocumentType.PRODUCT, source_id))

    async def refresh(
        self, ctx: ReferenceContext, key: DocumentKey, *, create: bool = False
    ) -> str | None:
        """The reference's own job: settle an uncertain create and bring the QBO record to the
        current revision. Creates one only with `create` (a bulk sync's references phase) and
        while the document is live; otherwise the first order that needs it does. None when
        QBO holds none. The job ends with the reference's state recorded (never pending)."""
        async with self._locks.hold(key.lock()):
            return await self._ensure(ctx, key, create=create, own_job=True)

    def check_items(self, ctx: ReferenceContext, source_ids: list[str]) -> None:
        """Map every item of an order before anything is written: a sale product on a plan
        without inventory, or an unmapped account, fails the order with QBO untouched (R9)."""
        for source_id in source_ids:
            key = DocumentKey(ctx.company_id, DocumentType.PRODUCT, source_id)
            document = ctx.snapshots.get(key)
            if document is None or document.body is None:
                continue  # reported, with its remedy, when the item is resolved
            self._record(ctx, key, document)  # maps it: raises before any write

    async def qbo_id(self, ctx: ReferenceContext, key: DocumentKey) -> str:
        """The QBO Id of the record `key` stands for, found or created (and up to date)."""
        document = ctx.snapshots.get(key) or await self._documents.get(key)
        spec = self._record(ctx, key, self.present(key, document))
        # The steady state, without the lock: QBO already holds this version of the record.
        record = ctx.records[key] if key in ctx.records else await self._ledger.get(key)
        if record is not None and record.qbo_id and record.synced_hash == fingerprint(spec.payload):
            return record.qbo_id
        async with self._locks.hold(key.lock()):
            qbo_id = await self._ensure(ctx, key, create=True, own_job=False)
        assert qbo_id is not None  # create=True always ends with a QBO record or raises
        return qbo_id

    async def _ensure(
        self, ctx: ReferenceContext, key: DocumentKey, *, create: bool, own_job: bool
    ) -> str | None:
        """Under the reference's lock: what QBO should hold for it, from fresh reads.

        `create`: create the record if QBO has none (an order needs it, or a bulk sync's
        references phase). `own_job`: the reference's own job, which ends with its state
        recorded (never left pending); an order's job instead fails when the record is gone."""
        started = datetime.now(UTC)
        document = await self._documents.get(key)
        record = await self._ledger.get(key)
        spec = self._record(ctx, key, document) if document is not None and document.body else None
        revision = document.revision if document is not None else 0
        qbo_id = record.qbo_id if record else None
        sync_token = record.sync_token if record else None
        synced_hash = record.synced_hash if record else None
        settled = False
        if record is not None and record.write_intent and not qbo_id:
            adopted = await self._find_ours(
                ctx, WriteIntent.from_json(record.write_intent), spec, key
            )
            if adopted is None:
                await self._ledger.intend(key, None)  # that create wrote nothing
            else:
                qbo_id, sync_token, synced_hash = adopted.id, adopted.sync_token, None
                if spec is None:
                    await self._remember(key, revision, started, adopted, "", outcome="adopted")
                    settled = True
        if spec is None:
            # Deleted in the rental system: QBO name-list records are never deleted by us.
            if not own_job:
                self.present(key, document)  # raises, with the remedy
            if not settled and record is not None and record.state == SyncState.PENDING:
                await self._settle(
                    key,
                    revision,
                    started,
                    SyncState.SYNCED if qbo_id else SyncState.NOT_SYNCED,
                    "deleted in the rental system; QuickBooks keeps its record"
                    if qbo_id
                    else "deleted in the rental system; never in QuickBooks",
                )
            return qbo_id
        digest = fingerprint(spec.payload)
        if qbo_id and sync_token:
            if synced_hash == digest:
                if own_job and record is not None and record.state != SyncState.SYNCED:
                    await self._settle(key, revision, started, SyncState.SYNCED, "unchanged")
                return qbo_id
            written, used = await self._update_named(ctx, key, spec, qbo_id, sync_token, digest)
            await self._remember(key, revision, started, written, digest, outcome=_named(used))
            return written.id
        if not create:
            if record is not None and record.state != SyncState.NOT_SYNCED:
                await self._settle(
                    key,
                    revision,
                    started,
                    SyncState.NOT_SYNCED,
                    "not in QuickBooks: created with the first order that needs it",
                )
            return None
        written, used = await self._find_or_create(ctx, key, spec, digest, own_job=own_job)
        await self._remember(key, revision, started, written, digest, outcome=_named(used))
        return written.id

    async def _find_or_create(
        self,
        ctx: ReferenceContext,
        key: DocumentKey,
        spec: NameListRecord,
        digest: str,
        *,
        own_job: bool,
    ) -> tuple[Written, NameListRecord | None]:
        """Find the record by name or create it; a name held by a record of another kind (QBO
        answers 6240) falls back to the suffixed name, where an earlier create may have put
        it. Returns what QBO holds and the alternative record when that name is the one used."""
        alternative = spec.alternative
        existing = await ctx.client.find_by(spec.entity, spec.find.field, spec.find.value)
        if existing and not spec.same_record(existing[0]):
            raise errors.DuplicateName(
                f"Duplicate name: {spec.find.value!r} is already used in QuickBooks",
                code="6240",
                detail=f"{spec.entity} Id {existing[0].get('Id')} has {spec.find.field} "
                f"{spec.find.value!r}",
                remedy=spec.clash_remedy,
            )
        if existing:
            # Ours (an earlier create whose answer was lost) or the bookkeeper's: adopted and
            # brought to this revision, so the ledger never claims content QBO does not hold.
            adopted = await ctx.client.read(spec.entity, str(existing[0]["Id"]))
            return await self._update_named(ctx, key, spec, adopted.id, adopted.sync_token, digest)
        try:
            return await self._create(ctx, key, spec, digest, own_job=own_job), None
        except errors.DuplicateName:
            # Taken since the lookup above? By our own record when a job that outlived its
            # lock (e.g. its database session died with a PostgreSQL restart) created it
            # meanwhile: adopted, never written twice under the suffixed name (B1).
            again = await ctx.client.find_by(spec.entity, spec.find.field, spec.find.value)
            if alternative is None or again:
                if again and spec.same_record(again[0]):
                    adopted = await ctx.client.read(spec.entity, str(again[0]["Id"]))
                    return await self._update_named(
                        ctx, key, spec, adopted.id, adopted.sync_token, digest
                    )
                raise
        # The name is held by a record of another kind (not found among this kind's above):
        # the suffixed name, ours already when an earlier create's answer was lost.
        taken = await ctx.client.find_by(
            alternative.entity, alternative.find.field, alternative.find.value
        )
        if taken and alternative.same_record(taken[0]):
            adopted = await ctx.client.read(alternative.entity, str(taken[0]["Id"]))
            written = await self._update(
                ctx,
                key,
                alternative,
                adopted.id,
                adopted.sync_token,
                fingerprint(alternative.payload),
            )
            return written, alternative
        if taken:
            raise errors.DuplicateName(
                f"Duplicate name: {alternative.find.value!r} is already used in QuickBooks",
                code="6240",
                detail=f"{alternative.entity} Id {taken[0].get('Id')} has "
                f"{alternative.find.field} {alternative.find.value!r}",
                remedy=spec.clash_remedy,
            )
        # Its own requestid: QBO replays the refusal to a reused one.
        return await self._create(
            ctx, key, alternative, fingerprint(alternative.payload), own_job=own_job
        ), alternative

    async def _update_named(
        self,
        ctx: ReferenceContext,
        key: DocumentKey,
        spec: NameListRecord,
        qbo_id: str,
        sync_token: str,
        digest: str,
    ) -> tuple[Written, NameListRecord | None]:
        """An update under the record's name, or under the suffixed name when QBO says a record
        of another kind holds that name (6240)."""
        try:
            return await self._update(ctx, key, spec, qbo_id, sync_token, digest), None
        except errors.DuplicateName:
            if spec.alternative is None:
                raise
        current = await ctx.client.read(spec.entity, qbo_id)
        alternative = spec.alternative
        return (
            await self._update(
                ctx, key, alternative, qbo_id, current.sync_token, fingerprint(alternative.payload)
            ),
            alternative,
        )

    def _record(
        self, ctx: ReferenceContext, key: DocumentKey, document: StoredDocumentView
    ) -> NameListRecord:
        assert document.body is not None
        return self._kinds[key.doc_type].record(ctx, key, document.body)

    def present(self, key: DocumentKey, document: StoredDocumentView | None) -> StoredDocumentView:
        if document is None or document.body is None:
            raise MappingError(
                MappingProblem.REFERENCE_MISSING,
                f"The {key.doc_type.value} {key.source_id!r} was never sent to rentsync "
                "(or was deleted)",
                field=self._kinds[key.doc_type].field,
                remedy=(
                    f"Send the {key.doc_type.value} (PUT /api/v1/{key.doc_type.value}s/"
                    f"{key.source_id}), then press Resync."
                ),
            )
        return document

    async def _find_ours(
        self,
        ctx: ReferenceContext,
        intent: WriteIntent,
        spec: NameListRecord | None,
        key: DocumentKey,
    ) -> Written | None:
        """What an uncertain create may have written, found by the name it was sent with."""
        kind = self._kinds[key.doc_type]
        for found in await ctx.client.find_by(intent.entity, intent.field, intent.value):
            if spec.same_record(found) if spec else kind.ours(ctx, key, found):
                return await ctx.client.read(intent.entity, str(found["Id"]))
        return None

    async def _settle(
        self, key: DocumentKey, revision: int, started: datetime, state: SyncState, outcome: str
    ) -> None:
        await self._ledger.record(
            key, state=state, revision=revision, started_at=started, outcome=outcome
        )

    async def _create(
        self,
        ctx: ReferenceContext,
        key: DocumentKey,
        spec: NameListRecord,
        digest: str,
        *,
        own_job: bool,
    ) -> Written:
        # An order's job defers the reference's own job with the intent, which settles the
        # outcome if the order's job never does; the reference's own job is retried by the
        # queue itself.
        await self._ledger.intend(key, spec.find, follow_up=not own_job)
        try:
            return await ctx.client.create(
                spec.entity,
                spec.payload,
                requestid=write_request_id(
                    key, Operation.CREATE, content_hash=digest, generation=ctx.generation
                ),
            )
        except errors.QboError as error:
            if retry.kind_of(error) is not retry.Kind.TRANSIENT:
                await self._ledger.intend(key, None)  # refused: nothing was written
            raise

    @staticmethod
    async def _update(
        ctx: ReferenceContext,
        key: DocumentKey,
        spec: NameListRecord,
        qbo_id: str,
        sync_token: str,
        digest: str,
    ) -> Written:
        return await update_current(
            ctx.client,
            spec.entity,
            qbo_id,
            sync_token,
            payload=spec.update,
            requestid=lambda token: write_request_id(
                key,
                Operation.UPDATE,
                content_hash=digest,
                base_sync_token=token,
                generation=ctx.generation,
            ),
        )

    async def _remember(
        self,
        key: DocumentKey,
        revision: int,
        started: datetime,
        written: Written,
        digest: str,
        *,
        outcome: str = "synced",
    ) -> None:
        await self._ledger.record(
            key,
            state=SyncState.SYNCED,
            revision=revision,
            started_at=started,
            outcome=outcome,
            qbo={
                "qbo_entity": self._kinds[key.doc_type].entity,
                "qbo_id": written.id,
                "sync_token": written.sync_token,
                "synced_hash": digest or None,
            },
            follow_newer_revision=True,
        )


def _named(used: NameListRecord | None) -> str:
    """The ledger's outcome: which name QBO holds the record under, when it is the suffixed
    one (the rental system's name is taken in QBO by a record of another kind)."""
    if used is None:
        return "synced"
    return (
        f"synced as {used.find.value!r}: the name is taken in QuickBooks by a customer, vendor "
        "or employee of another kind"
    )
