"""Snapshots of the rental system's documents, stored together with the job that syncs them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.documents import ChangeReason, DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.triggers import Trigger, trigger_for_put
from rentsync.store import queue as queue_module
from rentsync.store import requeue

SYNC_TASK = "rentsync.sync_document"
GROUP_TASK = "rentsync.sync_group"
"""A bulk sync's group job: runs several documents' sync jobs together (`store.job_groups`)."""
SYNC_QUEUE = "sync"
BULK_SYNC_QUEUE = "sync_bulk"
"""The bulk lane: sync jobs a bulk sync defers. Workers run it with a concurrency of its own
(`RENTSYNC_BULK_CONCURRENCY`), so bulk jobs never hold a real-time slot (B9); the job is the same
task with the same lock, so an order never runs in two jobs at once, bulk or not."""


@dataclass(frozen=True, kw_only=True)
class StoredDocument:
    company_id: int
    doc_type: str
    source_id: str
    version: int | None
    revision: int
    body: dict[str, Any] | None
    deleted_at: datetime | None
    first_seen_at: datetime
    updated_at: datetime
    job_lock: str | None = None
    """The lock its jobs take when not its own (a payment's: its order's)."""

    @property
    def key(self) -> DocumentKey:
        return DocumentKey(self.company_id, DocumentType(self.doc_type), self.source_id)

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True, kw_only=True)
class StoreResult:
    stored: bool
    """False when the PUT carried a version older than the stored one (nothing changed)."""
    revision: int
    stored_version: int | None
    job_id: int | None
    deleted: bool = False
    """Whether the stored document is deleted (for the answer to an ignored PUT)."""


@dataclass(frozen=True, kw_only=True)
class Part:
    """A document stored with its parent, in the parent's transaction (a payment's refunds)."""

    key: DocumentKey
    body: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class GroupMember:
    """A live document whose jobs take a given lock, with the QBO Id the ledger holds for it."""

    source_id: str
    body: dict[str, Any]
    qbo_id: str | None
    state: str | None


_SELECT = (
    "SELECT company_id, doc_type, source_id, version, revision, body, deleted_at, "
    "first_seen_at, updated_at, job_lock FROM documents"
)


_UPSERT = (
    "INSERT INTO documents AS d (company_id, doc_type, source_id, version, body, "
    "deleted_at, job_lock) VALUES (%(company)s, %(type)s, %(id)s, %(version)s, "
    "%(body)s, CASE WHEN %(deleted)s THEN now() END, %(job_lock)s) "
    "ON CONFLICT (company_id, doc_type, source_id) DO UPDATE SET "
    # A deletion keeps the version it deleted at (unless it names a newer one), so
    # a late PUT of an older version cannot bring the document back.
    "version = CASE WHEN %(deleted)s THEN coalesce(EXCLUDED.version, d.version) "
    "ELSE EXCLUDED.version END, body = EXCLUDED.body, "
    "deleted_at = EXCLUDED.deleted_at, revision = d.revision + 1, updated_at = now(), "
    "job_lock = coalesce(EXCLUDED.job_lock, d.job_lock) "
    "WHERE %(version)s::bigint IS NULL OR d.version IS NULL "
    "OR %(version)s::bigint > d.version "
    # The same version again is a retried request: stored again (idempotent),
    # except that it never revives a document deleted at that version.
    "OR (%(version)s::bigint = d.version AND d.deleted_at IS NULL) "
    "RETURNING revision, (xmax = 0) AS first_put, job_lock"
)
"""Stores the change unless it is older than the stored version. Its row lock is NO KEY UPDATE
(no key column changes): it serialises PUTs of one document but not the foreign-key checks (KEY
SHARE) of a worker recording an outcome, which holds the ledger row the PUT locks next; a FOR
UPDATE lock here made the two deadlock."""


def _as_json(body: dict[str, Any]) -> Jsonb:
    # Decimal and date values arrive already serialised by pydantic's JSON mode.
    return Jsonb(body, dumps=lambda value: json.dumps(value, separators=(",", ":")))


class DocumentRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def put(
        self,
        key: DocumentKey,
        body: dict[str, Any] | None,
        *,
        version: int | None,
        reason: ChangeReason = ChangeReason.UPDATED,
        schedule: bool = True,
        every_change: bool = True,
        job_lock: str | None = None,
        parts: Sequence[Part] = (),
        part_types: Sequence[DocumentType] = (),
        first: Sequence[DocumentKey] = (),
    ) -> StoreResult:
        """Store the newest state (None = deleted) and, if `schedule`, its sync job.

        One transaction: a stored change always has a job, and a job always finds its change.
        `every_change`: the kind syncs on every change (transactions); otherwise only once QBO
        holds the record or may hold it (name-list records, created when first needed).
        The first PUT of a document is an automatic trigger; any later PUT or DELETE is the
        user's "Update" (R17), which also releases a document created before QBO was connected.

        `job_lock`: the lock its jobs take (default its own; a deletion keeps the stored one).
        `parts` (of `part_types`): documents derived from this one, stored and scheduled with it;
        those of `part_types` it no longer has (all of them, on a deletion) are deleted.
        `first`: documents whose sync is scheduled before this one's, unless already synced
        (a payment's order, whose invoice must reach QBO first).
        """
        params: dict[str, object] = {
            "company": key.company_id,
            "type": key.doc_type.value,
            "id": key.source_id,
            "version": version,
            "body": None if body is None else _as_json(body),
            "deleted": body is None,
            "job_lock": job_lock,
        }
        if schedule and every_change and not first and not part_types:
            stored = await self._put_and_schedule(key, params, version, reason)
            if stored is not None:
                return stored
            async with self._pool.connection() as conn:
                return await _ignored(conn, key)
        async with self._pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(_UPSERT, params)
            row = await cursor.fetchone()
            if row is None:  # a late PUT of an older version: nothing changes
                return await _ignored(conn, key)
            revision, first_put, lock = int(row[0]), bool(row[1]), row[2]
            job_id = None
            if schedule:
                for other in first:
                    await _schedule_unless_synced(conn, other)
            if schedule and (every_change or await _in_qbo(conn, key)):
                trigger = trigger_for_put(first_put=first_put, reason=reason)
                job_id = await schedule_sync(
                    conn, key, revision=revision, trigger=trigger, lock=lock
                )
            if part_types:
                await _store_parts(conn, key, parts, part_types, lock=lock, reason=reason)
        return StoreResult(stored=True, revision=revision, stored_version=version, job_id=job_id)

    async def _put_and_schedule(
        self,
        key: DocumentKey,
        params: dict[str, object],
        version: int | None,
        reason: ChangeReason,
    ) -> StoreResult | None:
        """`put`'s usual case (a document of its own, synced on every change) in one statement,
        atomic on its own: the change, its ledger row and its job, or nothing when the PUT is
        older than the stored version (None). The trigger follows from whether the upsert
        inserted, as `trigger_for_put` decides."""
        arrival = trigger_for_put(first_put=True, reason=reason)
        later = trigger_for_put(first_put=False, reason=reason)
        mark = _mark_pending(
            trigger="CASE WHEN s.first_put THEN %(arrival)s ELSE %(later)s END",
            user_action="CASE WHEN s.first_put THEN %(arrival_user)s ELSE %(later_user)s END",
            revision="s.revision",
            source="FROM stored AS s",
        )
        job = queue_module.defer_select(
            lock="coalesce(s.job_lock, %(own_lock)s)",
            columns="s.revision, ",
            source="FROM stored AS s",
        )
        statement = f"WITH stored AS ({_UPSERT}), marked AS ({mark}) {job}"
        values = {
            **params,
            **sync_job_params(key),
            "own_lock": key.lock(),
            "arrival": arrival.value,
            "arrival_user": arrival.is_user_action,
            "later": later.value,
            "later_user": later.is_user_action,
        }
        async with self._pool.connection() as conn:
            cursor = await conn.execute(statement, values)
            row = await cursor.fetchone()
        if row is None:
            return None
        return StoreResult(
            stored=True, revision=int(row[0]), stored_version=version, job_id=int(row[1])
        )

    async def get(self, key: DocumentKey) -> StoredDocument | None:
        async with self._pool.connection() as conn:
            return await get_document(conn, key)

    async def get_many(self, keys: Sequence[DocumentKey]) -> dict[DocumentKey, StoredDocument]:
        """Several documents of one company in one round trip (an order's references)."""
        if not keys:
            return {}
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(StoredDocument)) as cur,
        ):
            await cur.execute(
                _SELECT + " WHERE (company_id, doc_type, source_id) IN "
                "(SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]))",
                _key_columns(keys),
            )
            return {document.key: document for document in await cur.fetchall()}

    async def schedule(self, key: DocumentKey, *, trigger: Trigger) -> int | None:
        """Schedule a sync of a stored document (resync, bulk); None if there is no document."""
        async with self._pool.connection() as conn, conn.transaction():
            document = await get_document(conn, key)
            if document is None:
                return None
            return await schedule_sync(
                conn, key, revision=document.revision, trigger=trigger, lock=document.job_lock
            )

    async def group(self, company_id: int, lock: str, doc_type: DocumentType) -> list[GroupMember]:
        """The live documents of `doc_type` whose jobs take `lock` (an order's payments)."""
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(GroupMember)) as cur,
        ):
            await cur.execute(
                "SELECT d.source_id, d.body, r.qbo_id, r.state FROM documents d "
                "LEFT JOIN sync_records r USING (company_id, doc_type, source_id) "
                "WHERE d.company_id = %s AND d.job_lock = %s AND d.doc_type = %s "
                "AND d.deleted_at IS NULL ORDER BY d.source_id",
                (company_id, lock, doc_type.value),
            )
            return await cur.fetchall()

    async def requeue_behind(
        self,
        key: DocumentKey,
        *,
        dependency: DocumentKey | None = None,
        kinds: Sequence[DocumentType] = (),
        job_id: int | None,
    ) -> bool:
        """Defer `key`'s sync again behind the queued one of `dependency` or of any document
        of `kinds` (`store.requeue`); False when none is queued under the same lock."""
        async with self._pool.connection() as conn:
            requeued = await requeue.requeue_behind(
                conn,
                key,
                dependency=dependency,
                kinds=kinds,
                job_id=job_id,
                task=SYNC_TASK,
                queue=SYNC_QUEUE,
            )
            return requeued is not None

    async def others_pending(self, lead: DocumentKey, exclude: DocumentKey) -> bool:
        """Whether `lead` or another document taking its lock (not `exclude`) has a sync still
        to run: what QBO holds for the group is then not final."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT EXISTS (SELECT 1 FROM documents d JOIN sync_records r "
                "USING (company_id, doc_type, source_id) WHERE d.company_id = %(company)s "
                "AND (d.job_lock = %(lock)s OR (d.doc_type = %(lead_type)s "
                "AND d.source_id = %(lead_id)s)) "
                "AND NOT (d.doc_type = %(own_type)s AND d.source_id = %(own_id)s) "
                "AND r.state = 'pending')",
                {
                    "company": lead.company_id,
                    "lock": lead.lock(),
                    "lead_type": lead.doc_type.value,
                    "lead_id": lead.source_id,
                    "own_type": exclude.doc_type.value,
                    "own_id": exclude.source_id,
                },
            )
            row = await cursor.fetchone()
            return bool(row and row[0])

    async def schedule_waiting(
        self, company_id: int, lock: str, doc_types: Sequence[DocumentType]
    ) -> int:
        """Schedule the documents taking `lock` that ended skipped or failed (e.g. payments that
        waited for their order's invoice); returns how many."""
        async with self._pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(WAITING, waiting_params(company_id, lock, doc_types))
            rows = await cursor.fetchall()
            await schedule_rows(conn, company_id, lock, rows)
            return len(rows)


WAITING = (
    "SELECT d.doc_type, d.source_id, d.revision FROM documents d "
    "WHERE d.company_id = %s AND d.job_lock = %s AND d.doc_type = ANY(%s) "
    # Each one's ledger row by its key, not a join: the join, once PostgreSQL took a generic
    # plan for it, read about 3,900 buffers a call in a first backfill, where the ledger's
    # skipped rows are every order sent before the connection (R14; issue 13, P4). From the
    # lock's documents (their index) it reads a few.
    "AND (SELECT r.state FROM sync_records r WHERE r.company_id = d.company_id "
    "AND r.doc_type = d.doc_type AND r.source_id = d.source_id) IN ('skipped', 'failed') "
    "ORDER BY d.first_seen_at, d.source_id"
)
"""The documents taking a lock that ended skipped or failed, oldest first (`schedule_waiting`;
the ledger runs it inside the statement that records an order synced)."""


def waiting_params(
    company_id: int, lock: str, doc_types: Sequence[DocumentType]
) -> tuple[object, ...]:
    return (company_id, lock, [t.value for t in doc_types])


async def schedule_rows(
    conn: AsyncConnection[Any], company_id: int, lock: str, rows: Sequence[Sequence[Any]]
) -> None:
    """Schedule the rows `WAITING` found (doc_type, source_id, revision), on the caller's
    transaction."""
    for doc_type, source_id, revision in rows:
        await schedule_sync(
            conn,
            DocumentKey(company_id, DocumentType(doc_type), source_id),
            revision=int(revision),
            trigger=Trigger.AUTOMATIC,
            lock=lock,
        )


async def _schedule_unless_synced(conn: AsyncConnection[Any], key: DocumentKey) -> None:
    cursor = await conn.execute(
        "SELECT d.revision, d.job_lock FROM documents d LEFT JOIN sync_records r "
        "USING (company_id, doc_type, source_id) WHERE d.company_id = %s AND d.doc_type = %s "
        "AND d.source_id = %s AND d.deleted_at IS NULL "
        "AND (r.state IS NULL OR r.state <> 'synced')",
        (key.company_id, key.doc_type.value, key.source_id),
    )
    row = await cursor.fetchone()
    if row is not None:
        await schedule_sync(conn, key, revision=int(row[0]), trigger=Trigger.AUTOMATIC, lock=row[1])


async def _store_parts(
    conn: AsyncConnection[Any],
    parent: DocumentKey,
    parts: Sequence[Part],
    part_types: Sequence[DocumentType],
    *,
    lock: str | None,
    reason: ChangeReason,
) -> None:
    """Store each part that changed (with its job), and delete the parent's other parts."""
    for part in parts:
        cursor = await conn.execute(
            "INSERT INTO documents AS d (company_id, doc_type, source_id, body, job_lock) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (company_id, doc_type, source_id) DO UPDATE "
            "SET body = EXCLUDED.body, deleted_at = NULL, revision = d.revision + 1, "
            "updated_at = now(), job_lock = EXCLUDED.job_lock "
            "WHERE d.body IS DISTINCT FROM EXCLUDED.body "
            "RETURNING revision, (xmax = 0) AS first_put",
            (
                part.key.company_id,
                part.key.doc_type.value,
                part.key.source_id,
                _as_json(part.body),
                lock,
            ),
        )
        row = await cursor.fetchone()
        if row is not None:
            trigger = trigger_for_put(first_put=bool(row[1]), reason=reason)
            await schedule_sync(conn, part.key, revision=int(row[0]), trigger=trigger, lock=lock)
    kept = [(part.key.doc_type.value, part.key.source_id) for part in parts]
    cursor = await conn.execute(
        "UPDATE documents SET body = NULL, deleted_at = now(), revision = revision + 1, "
        "updated_at = now() WHERE company_id = %s AND doc_type = ANY(%s) "
        "AND (source_id = %s OR starts_with(source_id, %s)) AND deleted_at IS NULL "
        "AND NOT (doc_type || '|' || source_id = ANY(%s)) RETURNING doc_type, source_id, revision",
        (
            parent.company_id,
            [t.value for t in part_types],
            parent.source_id,
            parent.source_id + "/",
            [f"{doc_type}|{source_id}" for doc_type, source_id in kept],
        ),
    )
    for doc_type, source_id, revision in await cursor.fetchall():
        await schedule_sync(
            conn,
            DocumentKey(parent.company_id, DocumentType(doc_type), source_id),
            revision=int(revision),
            trigger=Trigger.UPDATE,
            lock=lock,
        )


async def _in_qbo(conn: AsyncConnection[Any], key: DocumentKey) -> bool:
    """QBO holds the document's record, or may (its create's outcome is unknown)."""
    cursor = await conn.execute(
        "SELECT qbo_id IS NOT NULL OR write_intent IS NOT NULL FROM sync_records "
        "WHERE company_id = %s AND doc_type = %s AND source_id = %s",
        (key.company_id, key.doc_type.value, key.source_id),
    )
    row = await cursor.fetchone()
    return bool(row and row[0])


async def _ignored(conn: AsyncConnection[Any], key: DocumentKey) -> StoreResult:
    """A late PUT of an older version: nothing changed; what is stored."""
    current = await get_document(conn, key)
    assert current is not None
    return StoreResult(
        stored=False,
        revision=current.revision,
        stored_version=current.version,
        job_id=None,
        deleted=current.deleted,
    )


def sync_job_params(
    key: DocumentKey,
    *,
    queue: str = SYNC_QUEUE,
    lock: str | None = None,
    priority: int = 0,
    scheduled_at: datetime | None = None,
) -> dict[str, object]:
    """The parameters deferring the sync job of one document (`queue_module.job_params`)."""
    args = {
        "company_id": key.company_id,
        "doc_type": key.doc_type.value,
        "source_id": key.source_id,
    }
    return queue_module.job_params(
        task_name=SYNC_TASK,
        queue=queue,
        args=args,
        lock=lock,
        priority=priority,
        scheduled_at=scheduled_at,
    )


def _key_columns(keys: Sequence[DocumentKey]) -> tuple[list[int], list[str], list[str]]:
    return (
        [k.company_id for k in keys],
        [k.doc_type.value for k in keys],
        [k.source_id for k in keys],
    )


async def get_document(conn: AsyncConnection[Any], key: DocumentKey) -> StoredDocument | None:
    async with conn.cursor(row_factory=class_row(StoredDocument)) as cur:
        await cur.execute(
            _SELECT + " WHERE company_id = %s AND doc_type = %s AND source_id = %s",
            (key.company_id, key.doc_type.value, key.source_id),
        )
        return await cur.fetchone()


async def schedule_sync(
    conn: AsyncConnection[Any],
    key: DocumentKey,
    *,
    revision: int,
    trigger: Trigger,
    lock: str | None = None,
    priority: int = 0,
    queue: str = SYNC_QUEUE,
) -> int:
    """Mark the document pending in the ledger and defer its job, on the caller's transaction.

    The ledger keeps the latest trigger and when the user last acted on the document (an
    update, resync or bulk sync releases a document created before the connection, R14).
    `lock`: the job lock when not the document's own (`StoredDocument.job_lock`).
    `queue`: `BULK_SYNC_QUEUE` for a bulk sync's jobs (the bulk lane).
    """
    ledger = _mark_pending(
        trigger="%(trigger)s", user_action="%(user_action)s", revision="%(revision)s"
    )
    ledger_params = {
        "company": key.company_id,
        "type": key.doc_type.value,
        "id": key.source_id,
        "trigger": trigger.value,
        "user_action": trigger.is_user_action,
        "revision": revision,
    }
    return await queue_module.defer_job(
        conn,
        sync_job_params(key, queue=queue, lock=lock or key.lock(), priority=priority),
        along_with=(ledger, ledger_params),
    )


@dataclass(frozen=True, kw_only=True)
class Scheduled:
    """One document of `schedule_syncs`: its key, the revision to sync, its job lock (None:
    its own) and the job's priority."""

    key: DocumentKey
    revision: int
    lock: str | None = None
    priority: int = 0


async def schedule_syncs(
    conn: AsyncConnection[Any],
    documents: Sequence[Scheduled],
    *,
    trigger: Trigger,
    queue: str = SYNC_QUEUE,
    hold_seconds: float | None = None,
) -> list[int]:
    """`schedule_sync` for several documents in one statement (a bulk sync's step hands over
    dozens at once, issue 13 P4): each marked pending and its job deferred, the jobs in the
    given order (a lock's jobs run in the order of their ids: an order's before its payments'),
    on the caller's transaction. Returns the job ids in that order. A document given twice is
    scheduled one at a time (one INSERT ... ON CONFLICT cannot touch a row twice), not held.
    `hold_seconds`: the jobs are due that long from now (a group job's members: the lane's
    fetch leaves them to their group until then; this process's clock, which only moves when
    a member no group ran becomes an ordinary job)."""
    if not documents:
        return []
    if len({d.key for d in documents}) < len(documents):
        return [
            await schedule_sync(
                conn,
                d.key,
                revision=d.revision,
                trigger=trigger,
                lock=d.lock,
                priority=d.priority,
                queue=queue,
            )
            for d in documents
        ]
    source = (
        "FROM unnest(%(companies)s::bigint[], %(types)s::text[], %(ids)s::text[], "
        "%(revisions)s::bigint[]) AS c(company_id, doc_type, source_id, revision)"
    )
    mark = _mark_pending(
        trigger="%(trigger)s",
        user_action="%(user_action)s",
        revision="c.revision",
        source=source,
        key="c.company_id, c.doc_type, c.source_id",
    )
    held_until = (
        datetime.now(UTC) + timedelta(seconds=hold_seconds) if hold_seconds is not None else None
    )
    jobs = [
        sync_job_params(
            d.key,
            queue=queue,
            lock=d.lock or d.key.lock(),
            priority=d.priority,
            scheduled_at=held_until,
        )
        for d in documents
    ]
    marked = {
        "companies": [d.key.company_id for d in documents],
        "types": [d.key.doc_type.value for d in documents],
        "ids": [d.key.source_id for d in documents],
        "revisions": [d.revision for d in documents],
        "trigger": trigger.value,
        "user_action": trigger.is_user_action,
    }
    return await queue_module.defer_jobs(conn, jobs, along_with=(mark, marked))


def _mark_pending(
    *,
    trigger: str,
    user_action: str,
    revision: str,
    source: str = "",
    key: str = "%(company)s, %(type)s, %(id)s",
) -> str:
    """The statement marking a document pending in the ledger (`schedule_sync`); the trigger,
    whether it is the user's action, the revision and the key (company, type, source id) are
    SQL expressions over `source` (a FROM clause, or none for parameters)."""
    return (
        "INSERT INTO sync_records AS r (company_id, doc_type, source_id, state, trigger, "
        "last_user_action_at, requested_revision, pending_since) "
        f"SELECT {key}, 'pending', {trigger}, "
        f"CASE WHEN {user_action} THEN now() END, {revision}, now() {source} "
        "ON CONFLICT (company_id, doc_type, source_id) DO UPDATE SET state = 'pending', "
        # The oldest change still waiting: what the console's latency is measured from.
        "pending_since = coalesce(r.pending_since, now()), "
        "trigger = EXCLUDED.trigger, "
        "last_user_action_at = coalesce(EXCLUDED.last_user_action_at, r.last_user_action_at), "
        "requested_revision = EXCLUDED.requested_revision, updated_at = now()"
    )
