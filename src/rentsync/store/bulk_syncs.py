"""Bulk syncs in PostgreSQL: the selection, the preview's plan per order (in the run's order),
the cursor of the run and its progress (R18, B5).

Every step is one transaction that checks the state and the cursor it started from, so a step
run twice (a worker killed after committing, its job run again) changes nothing the second time,
and a cancel committed between two steps is seen by the next one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.bulk import (
    ORDER_KINDS,
    BulkCost,
    BulkKind,
    Plan,
    Planned,
    SelectBy,
    Selection,
    State,
    chain_seconds,
)
from rentsync.domain.documents import DocumentType, OrderKind
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.triggers import Trigger
from rentsync.store import queue as queue_module
from rentsync.store.documents import BULK_SYNC_QUEUE, GROUP_TASK, Scheduled, schedule_syncs

PHASE_REFERENCES = "references"
PHASE_ORDERS = "orders"

BULK_PRIORITY = -1
"""The priority of the reference jobs a bulk sync defers, in the bulk lane (`BULK_SYNC_QUEUE`,
its own worker slots): below its loop's job (0)."""
DOCUMENT_PRIORITY = BULK_PRIORITY - 1
"""Its documents' jobs: below its references', which hold back the documents that need them (a
document's job waiting in the lane never delays the reference the next documents wait for)."""
GROUP_HOLD_SECONDS = 60.0
"""How long a group's member jobs are held for their group job (`store.job_groups`): the group
claims them at once when it runs; should it never run (its worker killed before it claimed
them, and the reaper not yet through), they become ordinary jobs after this. A real-time job
of the same lock is never held up by it (higher priority: procrastinate's rule lets it pass a
member that waits; only a member running holds it)."""


@dataclass(frozen=True, kw_only=True)
class BulkSyncRow:
    id: int
    company_id: int
    selection: dict[str, Any]
    state: str
    start_when_previewed: bool
    preview_after: str | None
    items: int
    dispatched: int
    planned: dict[str, int]
    estimated_calls: int
    created_at: datetime
    previewed_at: datetime | None
    started_at: datetime | None
    cancelled_at: datetime | None
    finished_at: datetime | None
    phase: str
    """`references` (the customers, products and vendors QuickBooks lacks are synced first),
    then `orders` (every selected document, in the preview's order)."""
    batched_operations: int = 0
    single_operations: int = 0
    preview_stage: str = "orders"
    groups: int = 0
    """Locks among the documents handed to the sync (each lock's run one after another)."""
    longest_batched: int = 0
    longest_single: int = 0
    """The operations of the lock whose chain takes longest (`domain.bulk.Chains`)."""
    kinds: dict[str, int] = field(default_factory=dict)
    """The documents by kind as the preview counted them (`domain.bulk.KIND_NAMES`: an order
    and a quote apart, a payment's refunds and void apart from it)."""


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A selected order as stored, with what the ledger holds for it."""

    source_id: str
    revision: int
    body: dict[str, Any]
    first_seen_at: datetime
    job_lock: str | None
    state: str | None
    qbo_id: str | None
    synced_revision: int | None
    last_user_action_at: datetime | None
    error: dict[str, Any] | None = None
    """The ledger's last failure (`sync.failures.describe`), while it is failed."""
    requested_revision: int | None = None


@dataclass(frozen=True, kw_only=True)
class Follower:
    """A document that follows another (a payment, a refund, a void: its order; a bill: its
    vendor), as stored, with what the ledger holds for it."""

    doc_type: str
    source_id: str
    revision: int
    body: dict[str, Any]
    job_lock: str | None
    state: str | None
    qbo_id: str | None
    synced_revision: int | None
    error: dict[str, Any] | None = None
    requested_revision: int | None = None

    @property
    def key_type(self) -> DocumentType:
        return DocumentType(self.doc_type)


@dataclass(frozen=True, kw_only=True)
class PlannedItem:
    source_id: str
    revision: int
    plan: Plan
    doc_type: DocumentType = DocumentType.ORDER
    lock: str = ""
    """The job lock it runs under: the items of one lock, next to each other, are one chain."""
    counted_as: str = ""
    """Its kind in the preview's counts (`domain.bulk.KIND_NAMES`): an order's `order` or
    `quote`; empty: its document type."""

    @property
    def kind(self) -> str:
        return self.counted_as or self.doc_type.value


def chains_of(items: Sequence[PlannedItem]) -> tuple[int, BulkCost]:
    """The locks among the items handed to the sync (all but skips) and the operations of the
    longest one's chain (`domain.bulk.chain_seconds`). A lock's items are next to each other
    within a preview chunk; one split by a chunk's end counts twice (its chain as two)."""
    groups = 0
    longest = BulkCost()
    current: str | None = None
    chain = BulkCost()
    for item in items:
        if item.plan.planned is Planned.SKIP:
            continue
        if item.lock != current:
            groups += 1
            current, chain = item.lock, BulkCost()
        cost = item.plan.cost
        chain = BulkCost(batched=chain.batched + cost.batched, single=chain.single + cost.single)
        if chain_seconds(chain) > chain_seconds(longest):
            longest = chain
    return groups, longest


@dataclass(frozen=True, kw_only=True)
class ItemRow:
    seq: int
    doc_type: str
    source_id: str
    revision: int
    current_revision: int
    planned: str
    reason: str | None
    message: str | None
    calls: int
    dispatched_at: datetime | None
    state: str | None
    error_code: str | None

    @property
    def outcome(self) -> str:
        """waiting (not handed to the sync yet), skipped (a planned skip, passed over),
        pending (in the sync) or the ledger's state once it ended: as `outcomes` counts."""
        if self.dispatched_at is None:
            return "waiting"
        if self.planned == Planned.SKIP:
            return "skipped"
        return self.state or "pending"


@dataclass(frozen=True, kw_only=True)
class OutcomeCount:
    planned: str
    outcome: str
    """waiting (not handed to the sync yet), pending (in the sync), or the ledger's state."""
    count: int
    changed: int
    """Of those, documents changed since the preview (the run used their current version)."""


_COLUMNS = (
    "id, company_id, selection, state, start_when_previewed, preview_after, items, dispatched, "
    "planned, estimated_calls, created_at, previewed_at, started_at, cancelled_at, finished_at, "
    "phase, batched_operations, single_operations, preview_stage, groups, longest_batched, "
    "longest_single, kinds"
)


PAYMENT_PARTS = (DocumentType.PAYMENT, DocumentType.REFUND, DocumentType.PAYMENT_VOID)
"""The documents that follow an order (its lock) and go with it in a bulk sync."""

_ORDER_LOCK = "'c' || d.company_id || ':order:' || d.source_id"

_FOLLOWERS = (
    "SELECT d.doc_type, d.source_id, d.revision, d.body, d.job_lock, r.state, r.qbo_id, "
    "r.synced_revision, r.error, r.requested_revision FROM documents d "
    "LEFT JOIN sync_records r USING (company_id, doc_type, source_id) "
)
"""Documents as stored with their ledger row (`Follower`)."""


def _kind_rank(doc_types: Sequence[DocumentType]) -> str:
    """An SQL expression ranking `d.doc_type` by its place in `doc_types` (code's own values)."""
    whens = " ".join(f"WHEN '{t.value}' THEN {n}" for n, t in enumerate(doc_types))
    return f"CASE d.doc_type {whens} END"


def _selection_filter(selection: Selection) -> tuple[str, dict[str, Any]]:
    """The orders a selection walks: those of its order kinds matching its dates and numbers;
    with `not_in_qbo`, those QuickBooks lacks or (payments selected) one of whose payments,
    refunds or voids it lacks."""
    where = ["d.deleted_at IS NULL"]
    params: dict[str, Any] = {}
    if selection.date_from is not None:
        where.append("d.body->>'invoice_date' >= %(date_from)s")
        params["date_from"] = selection.date_from.isoformat()
    if selection.date_to is not None:
        where.append("d.body->>'invoice_date' <= %(date_to)s")
        params["date_to"] = selection.date_to.isoformat()
    if selection.numbers:
        where.append("d.body->>'invoice_number' = ANY(%(numbers)s)")
        params["numbers"] = list(selection.numbers)
    kinds = [kind.value for kind in selection.order_kinds()]
    if len(kinds) < len(OrderKind):
        # An order stored without `kind` is an order (the model's default).
        where.append("coalesce(d.body->>'kind', 'order') = ANY(%(kinds)s)")
        params["kinds"] = kinds
    if selection.not_in_qbo:
        lacking = []
        if any(selection.covers(kind) for kind in ORDER_KINDS):
            lacking.append("r.qbo_id IS NULL")
        if selection.covers(BulkKind.PAYMENT):
            lacking.append(
                "EXISTS (SELECT 1 FROM documents p LEFT JOIN sync_records pr "
                "USING (company_id, doc_type, source_id) WHERE p.company_id = d.company_id "
                f"AND p.job_lock = {_ORDER_LOCK} AND p.doc_type = ANY(%(parts)s) "
                "AND p.deleted_at IS NULL AND pr.qbo_id IS NULL)"
            )
            params["parts"] = [t.value for t in PAYMENT_PARTS]
        where.append(f"({' OR '.join(lacking) or 'false'})")
    elif not any(selection.covers(kind) for kind in (*ORDER_KINDS, BulkKind.PAYMENT)):
        where.append("false")
    return " AND ".join(where), params


class PreviewsPreparing(Exception):
    """A company has as many previews being prepared as it may (`BulkSyncRepository.create`)."""

    def __init__(self, preparing: Sequence[int]) -> None:
        super().__init__(f"previews being prepared: {list(preparing)}")
        self.preparing = list(preparing)


class BulkSyncRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def create(
        self,
        company_id: int,
        selection: Selection,
        *,
        start_when_previewed: bool,
        preparing_at_most: int | None = None,
    ) -> BulkSyncRow:
        """A new bulk sync, to be previewed. `preparing_at_most`: refused (`PreviewsPreparing`)
        while that many of the company's are being previewed; concurrent creates of one
        company take turns (its row locked), so they never pass the bound together."""
        async with (
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=class_row(BulkSyncRow)) as cur,
        ):
            if preparing_at_most is not None:
                await conn.execute(
                    "SELECT 1 FROM companies WHERE id = %s FOR NO KEY UPDATE", (company_id,)
                )
                found = await conn.execute(
                    "SELECT id FROM bulk_syncs WHERE company_id = %s AND state = 'previewing' "
                    "ORDER BY id",
                    (company_id,),
                )
                preparing = [int(row[0]) for row in await found.fetchall()]
                if len(preparing) >= preparing_at_most:
                    raise PreviewsPreparing(preparing)
            await cur.execute(
                "INSERT INTO bulk_syncs (company_id, selection, state, start_when_previewed, "
                f"phase) VALUES (%s, %s, 'previewing', %s, 'references') RETURNING {_COLUMNS}",
                (company_id, Jsonb(selection.model_dump(mode="json")), start_when_previewed),
            )
            row = await cur.fetchone()
            assert row is not None
            return row

    async def get(self, bulk_id: int, *, company_id: int | None = None) -> BulkSyncRow | None:
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(BulkSyncRow)) as cur,
        ):
            await cur.execute(
                f"SELECT {_COLUMNS} FROM bulk_syncs WHERE id = %s "
                "AND (%s::bigint IS NULL OR company_id = %s)",
                (bulk_id, company_id, company_id),
            )
            return await cur.fetchone()

    async def recent(self, company_id: int, *, limit: int = 50) -> list[BulkSyncRow]:
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(BulkSyncRow)) as cur,
        ):
            await cur.execute(
                f"SELECT {_COLUMNS} FROM bulk_syncs WHERE company_id = %s "
                "ORDER BY id DESC LIMIT %s",
                (company_id, limit),
            )
            return await cur.fetchall()

    async def candidates(
        self, bulk: BulkSyncRow, selection: Selection, *, limit: int
    ) -> list[Candidate]:
        """The next `limit` selected orders after the preview's cursor, in source id order."""
        where, params = _selection_filter(selection)
        params.update(
            company=bulk.company_id,
            type=DocumentType.ORDER.value,
            after=bulk.preview_after or "",
            limit=limit,
        )
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(Candidate)) as cur,
        ):
            await cur.execute(
                "SELECT d.source_id, d.revision, d.body, d.first_seen_at, d.job_lock, r.state, "
                "r.qbo_id, r.synced_revision, r.last_user_action_at, r.error, "
                "r.requested_revision FROM documents d "
                "LEFT JOIN sync_records r USING (company_id, doc_type, source_id) "
                "WHERE d.company_id = %(company)s AND d.doc_type = %(type)s "
                f"AND d.source_id > %(after)s AND {where} "
                "ORDER BY d.source_id LIMIT %(limit)s",
                params,
            )
            return await cur.fetchall()

    async def orders_with_payments(self, company_id: int, locks: Sequence[str]) -> set[str]:
        """Of the given order locks, those with a payment (not voided) sent to rentsync (R11)."""
        if not locks:
            return set()
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT DISTINCT job_lock FROM documents WHERE company_id = %s "
                "AND doc_type = %s AND job_lock = ANY(%s) AND deleted_at IS NULL "
                "AND coalesce(body->>'voided', 'false') <> 'true'",
                (company_id, DocumentType.PAYMENT.value, list(locks)),
            )
            return {str(row[0]) for row in await cursor.fetchall()}

    async def followers(
        self, company_id: int, locks: Sequence[str], doc_types: Sequence[DocumentType]
    ) -> list[Follower]:
        """The live documents of `doc_types` taking one of `locks`, grouped by lock; within a
        lock, each payment before its refunds and its void, in the order the run sends them."""
        if not locks:
            return []
        rank = _kind_rank(doc_types)
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(Follower)) as cur,
        ):
            await cur.execute(
                _FOLLOWERS
                + "WHERE d.company_id = %s AND d.job_lock = ANY(%s) AND d.doc_type = ANY(%s) "
                "AND d.deleted_at IS NULL ORDER BY d.job_lock, "
                "coalesce(d.body->>'payment_id', d.source_id), "
                f"{rank}, d.source_id",
                (company_id, list(locks), [t.value for t in doc_types]),
            )
            return await cur.fetchall()

    async def walked(
        self,
        bulk: BulkSyncRow,
        selection: Selection,
        kinds: Mapping[DocumentType, SelectBy],
        *,
        limit: int,
    ) -> list[Follower]:
        """The next `limit` selected documents of `kinds` (each selected by its own date and
        number fields) after the preview's cursor: grouped by the lock they take (a vendor's
        documents together), each group in the kinds' order, then by source id."""
        if not kinds:
            return []
        types = list(kinds)
        params: dict[str, Any] = {
            "company": bulk.company_id,
            "types": [t.value for t in types],
            "limit": limit,
        }
        per_kind = []
        for n, (doc_type, select_by) in enumerate(kinds.items()):
            where = [f"d.doc_type = %(type{n})s"]
            params[f"type{n}"] = doc_type.value
            if selection.date_from is not None:
                where.append(f"d.body->>'{select_by.date}' >= %(date_from)s")
            if selection.date_to is not None:
                where.append(f"d.body->>'{select_by.date}' <= %(date_to)s")
            if selection.numbers:
                where.append(f"d.body->>'{select_by.number}' = ANY(%(numbers)s)")
            per_kind.append(f"({' AND '.join(where)})")
        params.update(
            date_from=selection.date_from.isoformat() if selection.date_from else None,
            date_to=selection.date_to.isoformat() if selection.date_to else None,
            numbers=list(selection.numbers or []),
        )
        rank = _kind_rank(types)
        after = ""
        if bulk.preview_after:
            lock, position, source_id = json.loads(bulk.preview_after)
            after = (
                f"AND (coalesce(d.job_lock, ''), {rank}, d.source_id) "
                "> (%(lock)s, %(rank)s, %(after)s)"
            )
            params.update(lock=lock, rank=position, after=source_id)
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(Follower)) as cur,
        ):
            await cur.execute(
                _FOLLOWERS + "WHERE d.company_id = %(company)s AND d.doc_type = ANY(%(types)s) "
                f"AND d.deleted_at IS NULL AND ({' OR '.join(per_kind)}) "
                f"{'AND r.qbo_id IS NULL ' if selection.not_in_qbo else ''}{after} "
                f"ORDER BY coalesce(d.job_lock, ''), {rank}, d.source_id LIMIT %(limit)s",
                params,
            )
            return await cur.fetchall()

    async def standing(self, company_id: int, keys: Sequence[DocumentKey]) -> list[Follower]:
        """The given documents as stored (live ones), with what the ledger holds for them."""
        if not keys:
            return []
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(Follower)) as cur,
        ):
            await cur.execute(
                _FOLLOWERS + "JOIN unnest(%s::text[], %s::text[]) AS k(doc_type, source_id) "
                "ON d.doc_type = k.doc_type AND d.source_id = k.source_id "
                "WHERE d.company_id = %s AND d.deleted_at IS NULL",
                (
                    [key.doc_type.value for key in keys],
                    [key.source_id for key in keys],
                    company_id,
                ),
            )
            return await cur.fetchall()

    async def planned_in_run(
        self, bulk_id: int, keys: Sequence[DocumentKey]
    ) -> dict[tuple[str, str], Plan]:
        """What the run's preview planned for the given documents (earlier chunks)."""
        if not keys:
            return {}
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT i.doc_type, i.source_id, i.planned, i.reason, i.message "
                "FROM bulk_sync_items i JOIN unnest(%s::text[], %s::text[]) "
                "AS k(doc_type, source_id) ON i.doc_type = k.doc_type "
                "AND i.source_id = k.source_id WHERE i.bulk_sync_id = %s",
                ([key.doc_type.value for key in keys], [key.source_id for key in keys], bulk_id),
            )
            return {
                (str(doc_type), str(source_id)): Plan(
                    planned=Planned(planned), reason=reason, message=message
                )
                for doc_type, source_id, planned, reason, message in await cursor.fetchall()
            }

    async def add_preview_chunk(
        self,
        bulk: BulkSyncRow,
        items: Sequence[PlannedItem],
        *,
        references: Mapping[DocumentKey, int],
        reference_calls: int,
        after: str | None,
        last: bool,
        next_stage: str | None = None,
    ) -> bool:
        """Store one chunk of the preview and move its cursor; the preview is complete with
        `last`. `references`: customers, products and vendors QuickBooks does not hold yet, each
        with the place in `items` (from 1) of the first document that needs it; each costs
        `reference_calls` the first time this bulk sync meets it (which keeps its first
        document). `after`: where
        the next chunk starts; `next_stage`: the preview goes on with the next stage (from its
        start). False (nothing stored) if another run of the step stored this chunk first, or
        the bulk sync was cancelled."""
        async with self._pool.connection() as conn, conn.transaction():
            locked = await _lock(conn, bulk.id)
            if (
                locked is None
                or locked.state != State.PREVIEWING
                or locked.preview_after != bulk.preview_after
                or locked.preview_stage != bulk.preview_stage
            ):
                return False
            new_references = 0
            if references:
                cursor = await conn.execute(
                    "INSERT INTO bulk_sync_references (bulk_sync_id, doc_type, source_id, "
                    "first_seq) SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::int[]) "
                    "ON CONFLICT DO NOTHING RETURNING 1",
                    (
                        bulk.id,
                        [key.doc_type.value for key in references],
                        [key.source_id for key in references],
                        [locked.items + place for place in references.values()],
                    ),
                )
                new_references = len(await cursor.fetchall())
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO bulk_sync_items (bulk_sync_id, seq, company_id, doc_type, "
                    "source_id, revision, planned, reason, message, calls) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [
                        (
                            bulk.id,
                            locked.items + number,
                            bulk.company_id,
                            item.doc_type.value,
                            item.source_id,
                            item.revision,
                            item.plan.planned.value,
                            item.plan.reason,
                            item.plan.message,
                            item.plan.calls,
                        )
                        for number, item in enumerate(items, start=1)
                    ],
                )
            planned = dict(locked.planned)
            kinds = dict(locked.kinds)
            for item in items:
                planned[item.plan.planned.value] = planned.get(item.plan.planned.value, 0) + 1
                kinds[item.kind] = kinds.get(item.kind, 0) + 1
            calls = sum(item.plan.calls for item in items) + new_references * reference_calls
            batched = sum(item.plan.cost.batched for item in items)
            singles = sum(item.plan.cost.single for item in items)
            groups, chain = chains_of(items)
            longest = max(
                (chain, BulkCost(batched=locked.longest_batched, single=locked.longest_single)),
                key=chain_seconds,
            )
            next_state = State.PREVIEWING
            if last:
                next_state = State.RUNNING if locked.start_when_previewed else State.PREVIEWED
            await conn.execute(
                "UPDATE bulk_syncs SET items = items + %s, planned = %s, kinds = %s, "
                "estimated_calls = estimated_calls + %s, batched_operations = "
                "batched_operations + %s, single_operations = single_operations + %s, "
                "groups = groups + %s, longest_batched = %s, longest_single = %s, "
                "preview_after = %s, preview_stage = %s, state = %s, "
                "previewed_at = CASE WHEN %s THEN now() END, "
                "started_at = CASE WHEN %s THEN now() END WHERE id = %s",
                (
                    len(items),
                    Jsonb(planned),
                    Jsonb(kinds),
                    calls,
                    batched,
                    singles,
                    groups,
                    longest.batched,
                    longest.single,
                    None if next_stage else after,
                    next_stage or bulk.preview_stage,
                    next_state.value,
                    last,
                    next_state is State.RUNNING,
                    bulk.id,
                ),
            )
            return True

    async def start(self, company_id: int, bulk_id: int) -> BulkSyncRow | None:
        """The user confirms the preview: previewed -> running (None when not previewed)."""
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(BulkSyncRow)) as cur,
        ):
            await cur.execute(
                "UPDATE bulk_syncs SET state = 'running', started_at = now() "
                "WHERE id = %s AND company_id = %s AND state = 'previewed' "
                f"RETURNING {_COLUMNS}",
                (bulk_id, company_id),
            )
            return await cur.fetchone()

    async def cancel(self, company_id: int, bulk_id: int) -> BulkSyncRow | None:
        """Stop handing orders to the sync (None when it had already ended)."""
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(BulkSyncRow)) as cur,
        ):
            await cur.execute(
                "UPDATE bulk_syncs SET state = 'cancelled', cancelled_at = now() "
                "WHERE id = %s AND company_id = %s "
                "AND state IN ('previewing', 'previewed', 'running') "
                f"RETURNING {_COLUMNS}",
                (bulk_id, company_id),
            )
            return await cur.fetchone()

    async def dispatch(self, bulk: BulkSyncRow, *, window: int, group_size: int = 0) -> int:
        """Hand the next documents to the sync (their jobs, in the bulk lane) so that at most
        `window` of this bulk sync's documents, and `window` of its references, are in the sync
        at once. While in the references phase: the customers, products and vendors the preview
        found QuickBooks lacks, each its own job (their creates travel in batches), in the order
        the documents need them; once every one of them is settled (synced, skipped or failed),
        the orders phase. In both, documents in the preview's order, skips passed over; in the
        references phase only the groups before the first document that needs a reference not
        settled yet (the frontier): a document never goes before its customer, products or
        vendor are settled (B1's dependency order). Marks the run done once every document was
        handed over and none is in the sync. Returns how many documents were handed over (0
        when nothing was free, or the run is not running). `group_size` > 0: the documents'
        jobs are run by group jobs of about that many documents each (`store.job_groups`)."""
        async with self._pool.connection() as conn, conn.transaction():
            locked = await _lock(conn, bulk.id)
            if locked is None or locked.state != State.RUNNING:
                return 0
            frontier: int | None = None
            references = 0
            if locked.phase == PHASE_REFERENCES:
                references, frontier = await _dispatch_references(conn, locked, window=window)
            busy = await _in_sync(conn, locked, lookback=window * 4)
            free = window - busy
            deferred = 0
            last_seq = locked.dispatched
            allowed = locked.items if frontier is None else min(frontier - 1, locked.items)
            if free > 0 and locked.dispatched < allowed:
                # The next items first, then their documents: as one join PostgreSQL (with
                # the items' statistics from before the preview filled them) joined every item
                # left in the run to its document and sorted them before the limit, about
                # 5,500 buffers and 26 ms a step at 2,000 orders (issue 13, P4).
                cursor = await conn.execute(
                    "SELECT i.seq, i.doc_type, i.source_id, i.planned, d.revision, d.job_lock, "
                    "d.deleted_at IS NOT NULL FROM (SELECT seq, company_id, doc_type, "
                    "source_id, planned FROM bulk_sync_items WHERE bulk_sync_id = %s "
                    "AND seq > %s ORDER BY seq LIMIT %s) AS i JOIN documents d "
                    "USING (company_id, doc_type, source_id) ORDER BY i.seq",
                    (locked.id, locked.dispatched, max(free * 4, 100)),
                )
                # A group (an order and its payments, a vendor's documents) is handed over
                # whole: its documents' jobs are deferred in order under one lock, before the
                # first of them can release the others into the real-time lane. So a group is
                # gathered, then handed over once the next one starts (or the rows end); one
                # that the frontier cuts waits, whole.
                group: str | None = None
                members: list[_Member] = []
                handing: list[Scheduled] = []
                for (
                    seq,
                    doc_type,
                    source_id,
                    planned,
                    revision,
                    job_lock,
                    deleted,
                ) in await cursor.fetchall():
                    key = DocumentKey(locked.company_id, DocumentType(doc_type), str(source_id))
                    lock = job_lock or key.lock()
                    if lock != group:
                        deferred += _hand_over_group(handing, members)
                        last_seq = members[-1][0] if members else last_seq
                        members = []
                        if deferred >= free or seq > allowed:
                            break
                        group = lock
                    elif seq > allowed:
                        members = []  # the frontier cuts this group: none of it goes yet
                        break
                    members.append(
                        (int(seq), key, str(planned), int(revision), job_lock, bool(deleted))
                    )
                deferred += _hand_over_group(handing, members)
                last_seq = members[-1][0] if members else last_seq
                # Every job of the step in one statement, in the run's order (a group's in its
                # order, so an order's job runs before its payments').
                await _hand_over(conn, handing, group_size=group_size)
                await conn.execute(
                    "UPDATE bulk_sync_items SET dispatched_at = now() "
                    "WHERE bulk_sync_id = %s AND seq > %s AND seq <= %s",
                    (locked.id, locked.dispatched, last_seq),
                )
            await _settle(conn, locked.id)
            finished = (
                frontier is None
                and last_seq >= locked.items
                and deferred == 0
                and not await _any_in_sync(conn, locked)
            )
            await conn.execute(
                "UPDATE bulk_syncs SET dispatched = %s, state = CASE WHEN %s THEN 'done' "
                "ELSE state END, finished_at = CASE WHEN %s THEN now() END WHERE id = %s",
                (last_seq, finished, finished, locked.id),
            )
            return references + deferred

    async def outcomes(self, bulk_id: int) -> list[OutcomeCount]:
        """The run's outcomes so far: the settled counts the dispatch step added up, the orders
        still in the sync (read live), and the waiting ones (the preview's planned counts less
        the handed over). One snapshot, so an order settling meanwhile is not counted twice;
        the cost does not grow with the run's size. An order's change since the preview counts
        once it is handed over."""
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor = await conn.execute(
                "SELECT settled_counts, planned FROM bulk_syncs WHERE id = %s", (bulk_id,)
            )
            row = await cursor.fetchone()
            if row is None:
                return []
            settled, planned = row
            cursor = await conn.execute(
                "SELECT i.planned, CASE WHEN i.planned = 'skip' THEN 'skipped' "
                "ELSE coalesce(r.state, 'pending') END, count(*)::int, "
                "count(*) FILTER (WHERE d.revision > i.revision)::int "
                "FROM bulk_sync_items i JOIN documents d USING (company_id, doc_type, source_id) "
                "LEFT JOIN sync_records r USING (company_id, doc_type, source_id) "
                "WHERE i.bulk_sync_id = %s AND i.dispatched_at IS NOT NULL "
                "AND i.settled_at IS NULL GROUP BY 1, 2",
                (bulk_id,),
            )
            live = await cursor.fetchall()
        return _outcome_counts(settled, live, planned)

    async def reference_progress(self, bulk: BulkSyncRow) -> tuple[int, int]:
        """The references phase: (customers and products to sync first, those settled)."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE f.dispatched_at IS NOT NULL "
                "AND coalesce(r.state, 'pending') <> 'pending') FROM bulk_sync_references f "
                "LEFT JOIN sync_records r ON r.company_id = %s AND r.doc_type = f.doc_type "
                "AND r.source_id = f.source_id WHERE f.bulk_sync_id = %s",
                (bulk.company_id, bulk.id),
            )
            row = await cursor.fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def items(
        self, bulk_id: int, *, after: int = 0, limit: int = 100, planned: Planned | None = None
    ) -> list[ItemRow]:
        """The preview's plan per order with its outcome so far, in the run's order."""
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(ItemRow)) as cur,
        ):
            await cur.execute(ITEMS_PAGE, (bulk_id, after, planned, planned, limit))
            return await cur.fetchall()

    async def active(self) -> list[int]:
        """Bulk syncs that still have steps to run (previewing or running)."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT id FROM bulk_syncs WHERE state IN ('previewing', 'running') ORDER BY id"
            )
            return [int(row[0]) for row in await cursor.fetchall()]


ITEMS_PAGE = (
    # The page of items first (by the run's primary key, in seq order), then each one's
    # document and ledger row by its key, as the step's own reads do (a LIMITed LATERAL
    # subquery is one index look-up per item: PostgreSQL cannot turn it into a join). Joined
    # before the LIMIT, PostgreSQL merged the rest of the run with both tables and sorted it
    # for every page.
    "WITH page AS MATERIALIZED (SELECT i.seq, i.company_id, i.doc_type, i.source_id, "
    "i.revision, i.planned, i.reason, i.message, i.calls, i.dispatched_at "
    "FROM bulk_sync_items i WHERE i.bulk_sync_id = %s AND i.seq > %s "
    "AND (%s::text IS NULL OR i.planned = %s) ORDER BY i.seq LIMIT %s) "
    "SELECT p.seq, p.doc_type, p.source_id, p.revision, d.revision AS current_revision, "
    "p.planned, p.reason, p.message, p.calls, p.dispatched_at, r.state, "
    "r.error->>'code' AS error_code FROM page p "
    "JOIN LATERAL (SELECT d.revision FROM documents d WHERE d.company_id = p.company_id "
    "AND d.doc_type = p.doc_type AND d.source_id = p.source_id LIMIT 1) d ON true "
    "LEFT JOIN LATERAL (SELECT r.state, r.error FROM sync_records r "
    "WHERE r.company_id = p.company_id AND r.doc_type = p.doc_type "
    "AND r.source_id = p.source_id LIMIT 1) r ON true ORDER BY p.seq"
)
"""`BulkSyncRepository.items`' statement: a page of a run's items with their outcomes."""


async def _dispatch_references(
    conn: AsyncConnection[Any], bulk: BulkSyncRow, *, window: int
) -> tuple[int, int | None]:
    """The references phase of `dispatch`, on its transaction (the bulk sync's row locked):
    hands the next references over, in the order the documents need them (at most `window` in
    the sync). Returns how many were deferred, and the frontier: the seq of the first document
    that needs a reference not settled yet (those before it may go), or None once every
    reference is settled (the phase is then `orders`). A reference stored before its first
    document was (`first_seq` NULL) holds every document back, as the phase did before."""
    cursor = await conn.execute(
        "SELECT count(*) FILTER (WHERE f.dispatched_at IS NULL), "
        "count(*) FILTER (WHERE f.dispatched_at IS NOT NULL AND r.state = 'pending'), "
        "min(coalesce(f.first_seq, 0)) FILTER (WHERE f.dispatched_at IS NULL "
        "OR r.state = 'pending') "
        "FROM bulk_sync_references f LEFT JOIN sync_records r ON r.company_id = %s "
        "AND r.doc_type = f.doc_type AND r.source_id = f.source_id WHERE f.bulk_sync_id = %s",
        (bulk.company_id, bulk.id),
    )
    row = await cursor.fetchone()
    waiting, busy = (int(row[0]), int(row[1])) if row else (0, 0)
    frontier = int(row[2]) if row and row[2] is not None else None
    if waiting == 0 and busy == 0:
        # Every reference settled: the documents now find theirs in the ledger.
        await conn.execute(
            "UPDATE bulk_syncs SET phase = %s WHERE id = %s", (PHASE_ORDERS, bulk.id)
        )
        return 0, None
    free = window - busy
    if free <= 0 or waiting == 0:
        return 0, frontier
    cursor = await conn.execute(
        "SELECT f.doc_type, f.source_id, d.revision, d.job_lock, d.deleted_at IS NOT NULL "
        "FROM bulk_sync_references f JOIN documents d ON d.company_id = %s "
        "AND d.doc_type = f.doc_type AND d.source_id = f.source_id "
        "WHERE f.bulk_sync_id = %s AND f.dispatched_at IS NULL "
        "ORDER BY coalesce(f.first_seq, 0), f.doc_type, f.source_id LIMIT %s",
        (bulk.company_id, bulk.id, free),
    )
    chosen = await cursor.fetchall()
    handing = [
        Scheduled(
            key=DocumentKey(bulk.company_id, DocumentType(doc_type), str(source_id)),
            revision=int(revision),
            lock=job_lock,
            priority=BULK_PRIORITY,
        )
        for doc_type, source_id, revision, job_lock, deleted in chosen
        # A deleted one: its deletion's own job settles it; the orders that need it fail.
        if not deleted
    ]
    await _hand_over(conn, handing)
    deferred = len(handing)
    await conn.execute(
        "UPDATE bulk_sync_references f SET dispatched_at = now() FROM unnest(%s::text[], "
        "%s::text[]) AS c(doc_type, source_id) WHERE f.bulk_sync_id = %s "
        "AND f.doc_type = c.doc_type AND f.source_id = c.source_id",
        ([str(r[0]) for r in chosen], [str(r[1]) for r in chosen], bulk.id),
    )
    # A reference whose document is gone (no row joined) is never handed over.
    if len(chosen) < free:
        await conn.execute(
            "UPDATE bulk_sync_references f SET dispatched_at = now() WHERE f.bulk_sync_id = %s "
            "AND f.dispatched_at IS NULL AND NOT EXISTS (SELECT 1 FROM documents d "
            "WHERE d.company_id = %s AND d.doc_type = f.doc_type AND d.source_id = f.source_id)",
            (bulk.id, bulk.company_id),
        )
    return deferred, frontier


async def _lock(conn: AsyncConnection[Any], bulk_id: int) -> BulkSyncRow | None:
    async with conn.cursor(row_factory=class_row(BulkSyncRow)) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM bulk_syncs WHERE id = %s FOR UPDATE", (bulk_id,))
        return await cur.fetchone()


async def _in_sync(conn: AsyncConnection[Any], bulk: BulkSyncRow, *, lookback: int) -> int:
    """This run's orders still in the sync, among the last `lookback` handed over. An order the
    sync keeps retrying with backoff (QuickBooks unreachable for hours) falls out of the window
    after that and no longer holds the next orders up; the run is done once it settles too."""
    # Each item's ledger row by its key (a subquery per item, which PostgreSQL does not turn
    # into a join). As a join it hashed the ledger's pending rows, found through the ledger's
    # (company, state, updated_at) index: about 5,400 buffers and 9 ms a step in a first
    # backfill of 2,000 orders (issue 13, P4); by key, 3 buffers per item of the lookback.
    cursor = await conn.execute(
        "SELECT count(*) FROM bulk_sync_items i WHERE i.bulk_sync_id = %s AND i.seq > %s "
        "AND i.seq <= %s AND i.planned <> 'skip' AND i.dispatched_at IS NOT NULL "
        "AND (SELECT r.state FROM sync_records r WHERE r.company_id = i.company_id "
        "AND r.doc_type = i.doc_type AND r.source_id = i.source_id) = 'pending'",
        (bulk.id, max(bulk.dispatched - lookback, 0), bulk.dispatched),
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


_Member = tuple[int, DocumentKey, str, int, str | None, bool]
"""A document of a group as `dispatch` read it: seq, key, planned, revision, job lock, deleted."""


def _hand_over_group(handing: list[Scheduled], members: Sequence[_Member]) -> int:
    """Add the jobs of a group's documents to `handing`, in order; returns how many. A skip
    needs no job; a document deleted since the preview has its own (the deletion's), which a
    bulk sync must not overtake."""
    deferred = 0
    for _, key, planned, revision, job_lock, deleted in members:
        if planned == Planned.SKIP or deleted:
            continue
        handing.append(
            Scheduled(key=key, revision=revision, lock=job_lock, priority=DOCUMENT_PRIORITY)
        )
        deferred += 1
    return deferred


async def _hand_over(
    conn: AsyncConnection[Any], handing: Sequence[Scheduled], *, group_size: int = 0
) -> None:
    """Defer the documents' ordinary sync jobs in the bulk lane, in the given order, in one
    statement on the step's transaction (trigger bulk_sync: it releases a document created
    before the connection, R14). With `group_size`, the jobs are held for group jobs of about
    that many (a lock's documents in one group: an order and its payments run in one group,
    in order), deferred in the same transaction: a worker fetches one job per group, and the
    group claims the rest (issue 13, P4)."""
    grouped = group_size > 0 and len({d.key for d in handing}) == len(handing)
    ids = await schedule_syncs(
        conn,
        handing,
        trigger=Trigger.BULK_SYNC,
        queue=BULK_SYNC_QUEUE,
        hold_seconds=GROUP_HOLD_SECONDS if grouped else None,
    )
    if not grouped:
        return
    await queue_module.defer_jobs(
        conn,
        [
            queue_module.job_params(
                task_name=GROUP_TASK,
                queue=BULK_SYNC_QUEUE,
                args={"job_ids": members},
                priority=DOCUMENT_PRIORITY,
            )
            for members in _groups(handing, ids, group_size)
        ],
    )


def _groups(handing: Sequence[Scheduled], ids: Sequence[int], size: int) -> list[list[int]]:
    """The job ids in groups of `size` or so, a lock's jobs never split between two groups."""
    groups: list[list[int]] = []
    current: list[int] = []
    lock: str | None = None
    for document, job_id in zip(handing, ids, strict=True):
        document_lock = document.lock or document.key.lock()
        if current and len(current) >= size and document_lock != lock:
            groups.append(current)
            current = []
        current.append(job_id)
        lock = document_lock
    if current:
        groups.append(current)
    return groups


async def _settle(conn: AsyncConnection[Any], bulk_id: int) -> None:
    """Add the orders whose outcome for the run has ended since the last step to the run's
    settled counts (on the dispatch step's transaction, under the run's row lock)."""
    cursor = await conn.execute(
        "WITH ended AS (SELECT i.seq, i.planned, CASE WHEN i.planned = 'skip' THEN 'skipped' "
        "ELSE r.state END AS outcome, d.revision > i.revision AS changed "
        "FROM bulk_sync_items i JOIN documents d USING (company_id, doc_type, source_id) "
        "LEFT JOIN sync_records r USING (company_id, doc_type, source_id) "
        "WHERE i.bulk_sync_id = %(id)s AND i.dispatched_at IS NOT NULL AND i.settled_at IS NULL "
        "AND (i.planned = 'skip' OR r.state IN ('synced', 'skipped', 'failed'))), "
        "marked AS (UPDATE bulk_sync_items i SET settled_at = now() FROM ended e "
        "WHERE i.bulk_sync_id = %(id)s AND i.seq = e.seq "
        "RETURNING e.planned, e.outcome, e.changed) "
        "SELECT planned, outcome, count(*)::int, count(*) FILTER (WHERE changed)::int "
        "FROM marked GROUP BY 1, 2",
        {"id": bulk_id},
    )
    ended = await cursor.fetchall()
    if not ended:
        return
    cursor = await conn.execute("SELECT settled_counts FROM bulk_syncs WHERE id = %s", (bulk_id,))
    row = await cursor.fetchone()
    assert row is not None
    merged = _merge(row[0], ended)
    await conn.execute(
        "UPDATE bulk_syncs SET settled_counts = %s WHERE id = %s",
        (Jsonb([list(key) + list(value) for key, value in merged.items()]), bulk_id),
    )


def _merge(
    settled: list[list[Any]], rows: Sequence[Sequence[Any]]
) -> dict[tuple[str, str], tuple[int, int]]:
    """(planned, outcome) -> (count, changed), settled counts plus `rows` of the same shape."""
    totals: dict[tuple[str, str], tuple[int, int]] = {}
    for planned, outcome, count, changed in [*settled, *rows]:
        key = (str(planned), str(outcome))
        before = totals.get(key, (0, 0))
        totals[key] = (before[0] + int(count), before[1] + int(changed))
    return totals


def _outcome_counts(
    settled: list[list[Any]], live: Sequence[Sequence[Any]], planned: dict[str, int]
) -> list[OutcomeCount]:
    """Settled plus live counts, and per planned outcome the rest of the preview's as waiting."""
    totals = _merge(settled, live)
    handed: dict[str, int] = {}
    for (plan, _), (count, _) in totals.items():
        handed[plan] = handed.get(plan, 0) + count
    counts = [
        OutcomeCount(planned=plan, outcome=outcome, count=count, changed=changed)
        for (plan, outcome), (count, changed) in sorted(totals.items())
    ]
    for plan, total in sorted(planned.items()):
        waiting = int(total) - handed.get(plan, 0)
        if waiting > 0:
            counts.append(OutcomeCount(planned=plan, outcome="waiting", count=waiting, changed=0))
    return counts


async def _any_in_sync(conn: AsyncConnection[Any], bulk: BulkSyncRow) -> bool:
    """Whether a document the run handed over is still in the sync, or ended after `_settle`
    read it (after `_settle`, only the unsettled ones can be: the partial index keeps this small
    at any run size). Each statement of the step's transaction reads its own snapshot, so a job
    that ends between the two is unsettled but no longer pending: counting it keeps the run
    going until the next step settles it (a run done with it unsettled would leave its outcome
    out of the run's counts for good)."""
    cursor = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM bulk_sync_items i JOIN sync_records r "
        "USING (company_id, doc_type, source_id) WHERE i.bulk_sync_id = %s "
        "AND i.dispatched_at IS NOT NULL AND i.settled_at IS NULL AND i.planned <> 'skip' "
        "AND r.state IN ('pending', 'synced', 'skipped', 'failed'))",
        (bulk.id,),
    )
    row = await cursor.fetchone()
    return bool(row and row[0])


def selection_of(bulk: BulkSyncRow) -> Selection:
    return Selection.model_validate_json(json.dumps(bulk.selection))
