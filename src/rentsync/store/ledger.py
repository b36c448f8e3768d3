"""The ledger: per document, what QBO holds, the last outcome, and the history of attempts."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, QueueJob, WriteIntent
from rentsync.domain.triggers import Trigger
from rentsync.store.connections import company_version
from rentsync.store.documents import (
    WAITING,
    StoredDocument,
    schedule_rows,
    schedule_sync,
    sync_job_params,
    waiting_params,
)
from rentsync.store.queue import defer_job

log = logging.getLogger(__name__)

_COLUMNS = (
    "company_id, doc_type, source_id, state, trigger, last_user_action_at, requested_revision, "
    "qbo_entity, qbo_id, write_generation, "
    "sync_token, synced_hash, synced_revision, skip_reason, error, attempts, failing_since, "
    "synced_at, updated_at, write_intent"
)


@dataclass(frozen=True, kw_only=True)
class SyncRecord:
    company_id: int
    doc_type: str
    source_id: str
    state: str
    trigger: str
    last_user_action_at: datetime | None
    requested_revision: int
    qbo_entity: str | None
    qbo_id: str | None
    write_generation: int
    sync_token: str | None
    synced_hash: str | None
    synced_revision: int | None
    skip_reason: str | None
    error: dict[str, Any] | None
    attempts: int
    failing_since: datetime | None
    synced_at: datetime | None
    updated_at: datetime
    write_intent: dict[str, Any] | None = None
    """A create whose outcome is not known yet (`domain.ledger.WriteIntent`)."""


@dataclass(kw_only=True)
class References:
    """An order's references as one run reads them (`LedgerRepository.references`)."""

    snapshots: dict[DocumentKey, StoredDocument] = field(default_factory=dict)
    records: dict[DocumentKey, SyncRecord] = field(default_factory=dict)
    noted: bool = False
    """Whether the write intent asked for was noted (False: the document's row already had a
    QBO object or an intent, or has no row yet)."""


@dataclass(frozen=True, kw_only=True)
class Attempt:
    id: int
    revision: int
    trigger: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    detail: dict[str, Any] | None


def _where(key: DocumentKey) -> tuple[str, tuple[object, ...]]:
    return (
        "company_id = %s AND doc_type = %s AND source_id = %s",
        (key.company_id, key.doc_type.value, key.source_id),
    )


@functools.cache
def _references_statement(*, noting: bool) -> str:
    """An order's references read by key, one statement whose plan does not depend on its
    parameters, so that PostgreSQL serves it with one generic plan per connection once it has
    made its first five (issue 13, P4: planned on every call, this read cost 0.7 ms of
    PostgreSQL a document, 0.5 ms of it planning). Hence: the keys in one jsonb (a set-returning
    function estimated at the same 100 rows with or without its value, where `unnest` of
    arrays is estimated from their lengths, so custom plans always looked cheaper); each
    document and ledger row looked up by its key in a LATERAL subquery that its LIMIT keeps
    from being flattened into a join, so no estimate can turn the lookups into scans; the
    intent noted in a statement of its own shape (no `%s IS NOT NULL` branch to fold)."""
    document_columns = [f.name for f in fields(StoredDocument)]
    record_columns = [f.name for f in fields(SyncRecord)]
    select = ", ".join(
        [f"d.{c} AS d_{c}" for c in document_columns] + [f"r.{c} AS r_{c}" for c in record_columns]
    )
    keyed = (
        "jsonb_to_recordset(%(keys)s::jsonb) AS k(company_id bigint, doc_type text, "
        "source_id text) "
        "LEFT JOIN LATERAL (SELECT * FROM documents WHERE company_id = k.company_id "
        "AND doc_type = k.doc_type AND source_id = k.source_id "
        "LIMIT 1) AS d ON true "
        "LEFT JOIN LATERAL (SELECT * FROM sync_records WHERE company_id = k.company_id "
        "AND doc_type = k.doc_type AND source_id = k.source_id "
        "LIMIT 1) AS r ON true"
    )
    if not noting:
        return f"SELECT false AS noted, {select} FROM {keyed}"
    # One row at least, whatever the keys: it carries whether the intent was noted.
    return (
        "WITH noted AS (UPDATE sync_records SET write_intent = %(intent)s "
        "WHERE company_id = %(company)s AND doc_type = %(type)s AND source_id = %(id)s "
        "AND qbo_id IS NULL AND write_intent IS NULL RETURNING 1) "
        f"SELECT (SELECT count(*) FROM noted) > 0 AS noted, {select} "
        f"FROM (SELECT 1) AS one LEFT JOIN ({keyed}) ON true"
    )


class LedgerRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._synced = _SyncedOutcomes(self)

    async def get(self, key: DocumentKey) -> SyncRecord | None:
        where, params = _where(key)
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(SyncRecord)) as cur,
        ):
            await cur.execute(f"SELECT {_COLUMNS} FROM sync_records WHERE {where}", params)
            return await cur.fetchone()

    async def get_with_document(
        self, key: DocumentKey
    ) -> tuple[StoredDocument | None, SyncRecord | None, str | None]:
        """A document's snapshot, its ledger row and its company's read version
        (`connections.company_version`) in one round trip (each job starts so)."""
        document_columns = [f.name for f in fields(StoredDocument)]
        record_columns = [f.name for f in fields(SyncRecord)]
        select = ", ".join(
            [f"d.{c} AS d_{c}" for c in document_columns]
            + [f"r.{c} AS r_{c}" for c in record_columns]
        )
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=dict_row) as cur,
        ):
            await cur.execute(
                f"SELECT {select}, {company_version('d.company_id')} AS company_version "
                "FROM documents d LEFT JOIN sync_records r "
                "USING (company_id, doc_type, source_id) "
                "WHERE d.company_id = %s AND d.doc_type = %s AND d.source_id = %s",
                (key.company_id, key.doc_type.value, key.source_id),
                prepare=True,  # by key: its generic plan is the custom one, without planning
            )
            row = await cur.fetchone()
        if row is None:
            return None, None, None
        document = StoredDocument(**{c: row[f"d_{c}"] for c in document_columns})
        version = row["company_version"]
        if row["r_state"] is None:
            return document, None, version
        return document, SyncRecord(**{c: row[f"r_{c}"] for c in record_columns}), version

    async def get_many(self, keys: Sequence[DocumentKey]) -> dict[DocumentKey, SyncRecord]:
        """Several ledger rows in one round trip (an order's references)."""
        if not keys:
            return {}
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(SyncRecord)) as cur,
        ):
            await cur.execute(
                f"SELECT {_COLUMNS} FROM sync_records WHERE (company_id, doc_type, source_id) IN "
                "(SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]))",
                (
                    [k.company_id for k in keys],
                    [k.doc_type.value for k in keys],
                    [k.source_id for k in keys],
                ),
            )
            rows = await cur.fetchall()
        return {DocumentKey(r.company_id, DocumentType(r.doc_type), r.source_id): r for r in rows}

    async def references(
        self, keys: Sequence[DocumentKey], *, noting: tuple[DocumentKey, WriteIntent] | None = None
    ) -> References:
        """An order's references: their snapshots and ledger rows in one round trip.

        `noting`: the write intent of the document about to be created (whose ledger row has
        no QBO object and no intent yet), noted in the same statement, so it is in the ledger
        before any create of this run is sent (B1) without a statement of its own. Noted early
        it can only be more careful: should the run stop before its create, the next one looks
        the document up once before creating it."""
        document_columns = [f.name for f in fields(StoredDocument)]
        record_columns = [f.name for f in fields(SyncRecord)]
        if not keys and noting is None:
            return References()
        keyed: dict[str, object] = {
            "keys": Jsonb(
                [
                    {
                        "company_id": k.company_id,
                        "doc_type": k.doc_type.value,
                        "source_id": k.source_id,
                    }
                    for k in keys
                ]
            )
        }
        if noting is None:
            statement, arguments = _references_statement(noting=False), keyed
        else:
            intent_key, intent = noting
            statement = _references_statement(noting=True)
            arguments = {
                **keyed,
                "intent": Jsonb(intent.as_json()),
                "company": intent_key.company_id,
                "type": intent_key.doc_type.value,
                "id": intent_key.source_id,
            }
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=dict_row) as cur,
        ):
            # Prepared at once: each of a worker's connections then serves it with one generic
            # plan (`_references_statement`), not a plan per call.
            await cur.execute(statement, arguments, prepare=True)
            rows = await cur.fetchall()
        found = References(noted=bool(rows and rows[0]["noted"]))
        for row in rows:
            if row["d_company_id"] is not None:
                document = StoredDocument(**{c: row[f"d_{c}"] for c in document_columns})
                found.snapshots[document.key] = document
            if row["r_company_id"] is not None:
                record = SyncRecord(**{c: row[f"r_{c}"] for c in record_columns})
                key = DocumentKey(
                    record.company_id, DocumentType(record.doc_type), record.source_id
                )
                found.records[key] = record
        return found

    async def search(
        self,
        company_id: int,
        *,
        states: list[str] | None = None,
        doc_type: str | None = None,
        error_code: str | None = None,
        limit: int = 100,
        after: tuple[datetime, str, str] | None = None,
    ) -> list[SyncRecord]:
        """Newest first; `after` is the (updated_at, doc_type, source_id) of the last row seen."""
        clauses = ["company_id = %s"]
        params: list[object] = [company_id]
        if states:
            clauses.append("state = ANY(%s)")
            params.append(states)
        if doc_type:
            clauses.append("doc_type = %s")
            params.append(doc_type)
        if error_code:
            # A skip reason is a code too (as for resync by code, `keys_failing_with`).
            clauses.append("(error->>'code' = %s OR (state = 'skipped' AND skip_reason = %s))")
            params += [error_code, error_code]
        if after is not None:
            clauses.append("(updated_at, doc_type, source_id) < (%s, %s, %s)")
            params.extend(after)
        params.append(limit)
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(SyncRecord)) as cur,
        ):
            await cur.execute(
                f"SELECT {_COLUMNS} FROM sync_records WHERE {' AND '.join(clauses)} "
                "ORDER BY updated_at DESC, doc_type DESC, source_id DESC LIMIT %s",
                params,
            )
            return await cur.fetchall()

    async def keys_failing_with(self, company_id: int, code: str) -> list[str]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT doc_type || ':' || source_id FROM sync_records WHERE company_id = %s "
                "AND ((state = 'failed' AND error->>'code' = %s) "
                "OR (state = 'skipped' AND skip_reason = %s))",
                (company_id, code, code),
            )
            return [row[0] for row in await cursor.fetchall()]

    async def attempts(self, key: DocumentKey, *, limit: int = 50) -> list[Attempt]:
        where, params = _where(key)
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(Attempt)) as cur,
        ):
            await cur.execute(
                "SELECT id, revision, trigger, started_at, finished_at, outcome, detail "
                f"FROM sync_attempts WHERE {where} ORDER BY id DESC LIMIT %s",
                (*params, limit),
            )
            return await cur.fetchall()

    async def record(
        self,
        key: DocumentKey,
        *,
        state: str,
        revision: int,
        started_at: datetime,
        outcome: str,
        skip_reason: str | None = None,
        error: dict[str, Any] | None = None,
        counts_as_attempt: bool = False,
        qbo: dict[str, Any] | None = None,
        follow_newer_revision: bool = False,
        release: tuple[str, Sequence[DocumentType]] | None = None,
        ending: QueueJob | None = None,
    ) -> None:
        """Write the outcome of one run and append it to the history, atomically (see
        `_record_one`). A document written to QBO and recorded synced (a new QBO object, its
        waiting documents looked for, its job ended) may share its statement with others
        recorded at the same moment (`_SyncedOutcomes`): a bulk sync's batch answers up to 30
        creates at once, and each outcome was a round trip of its own (issue 13, P4)."""
        if (
            state == "synced"
            and release is not None
            and error is None
            and skip_reason is None
            and not counts_as_attempt
            and not follow_newer_revision
            and qbo is not None
            and set(qbo) == set(_QBO_COLUMNS)
            and qbo["qbo_id"] is not None
        ):
            await self._synced.record(
                _Synced(
                    key=key,
                    revision=revision,
                    started_at=started_at,
                    outcome=outcome,
                    qbo=qbo,
                    release=release,
                    ending=ending,
                )
            )
            return
        await self._record_one(
            key,
            state=state,
            revision=revision,
            started_at=started_at,
            outcome=outcome,
            skip_reason=skip_reason,
            error=error,
            counts_as_attempt=counts_as_attempt,
            qbo=qbo,
            follow_newer_revision=follow_newer_revision,
            release=release,
            ending=ending,
        )

    async def _record_one(
        self,
        key: DocumentKey,
        *,
        state: str,
        revision: int,
        started_at: datetime,
        outcome: str,
        skip_reason: str | None = None,
        error: dict[str, Any] | None = None,
        counts_as_attempt: bool = False,
        qbo: dict[str, Any] | None = None,
        follow_newer_revision: bool = False,
        release: tuple[str, Sequence[DocumentType]] | None = None,
        ending: QueueJob | None = None,
    ) -> None:
        """Write the outcome of one run and append it to the history, atomically.

        `release` (lock, kinds): the documents of those kinds taking that lock that ended
        skipped or failed are scheduled after the outcome is written (an order's payments that
        waited for its invoice), found by the same statement.

        `ending` (with `release`): the queue job of this run, ended (succeeded) by the same
        statement when it is still running and no document waits to be scheduled, which then
        sets `ending.ended`; otherwise the queue ends it as usual after the scheduling (a
        worker killed before that runs the job again, so the waiting documents are not lost).

        `qbo` carries what QBO now holds (qbo_entity, qbo_id, sync_token, synced_hash); a
        key present with None clears it (the document was deleted in QBO). Knowing the QBO Id
        (or knowing there is none) settles a pending create's outcome: the write intent goes.

        `follow_newer_revision`: `revision` was written to QBO by another document's job (an
        order creating its customer); if the document changed meanwhile, its own job is
        scheduled in the same transaction, so the newer revision reaches QBO too.
        """
        where, params = _where(key)
        qbo = qbo or {}
        for column in qbo:
            if column not in {"qbo_entity", "qbo_id", "sync_token", "synced_hash"}:
                raise ValueError(f"not a ledger column: {column}")
        definite_refusal = error is not None and not error.get("outcome_uncertain", False)
        # A new QBO object will be a new write: after a definite refusal (which QBO may replay
        # for a reused requestid) and once the ledger forgets the object it had (deleted).
        new_generation = definite_refusal or ("qbo_id" in qbo and qbo["qbo_id"] is None)
        sets = [
            "state = %s",
            "skip_reason = %s",
            "error = %s",
            "updated_at = now()",
            "attempts = CASE WHEN %s THEN attempts + 1 WHEN %s = 'failed' THEN attempts ELSE 0 END",
            "write_generation = write_generation + CASE WHEN %s THEN 1 ELSE 0 END",
            "failing_since = CASE WHEN %s IN ('failed', 'pending') AND %s::text IS NOT NULL "
            "THEN coalesce(failing_since, now()) ELSE NULL END",
            # A final outcome ends the wait; a retry keeps it (the console's latency figures).
            "pending_since = CASE WHEN %s = 'pending' THEN pending_since END",
        ]
        values: list[object] = [
            state,
            skip_reason,
            None if error is None else Jsonb(error),
            counts_as_attempt,
            state,
            new_generation,
            state,
            None if error is None else "error",
            state,
        ]
        if state == "synced":
            sets += ["synced_at = now()", "synced_revision = %s"]
            values.append(revision)
        for column, value in qbo.items():
            sets.append(f"{column} = %s")
            values.append(value)
        if "qbo_id" in qbo:
            sets.append("write_intent = NULL")
        # One statement (atomic on its own): the outcome, and its line in the history (with
        # the state it left and how long the change had waited, from the row before the update).
        ctes = (
            f"WITH before AS (SELECT pending_since FROM sync_records WHERE {where}), "
            f"updated AS (UPDATE sync_records SET {', '.join(sets)} WHERE {where} "
            "RETURNING company_id, doc_type, source_id, trigger, state)"
        )
        history = (
            "INSERT INTO sync_attempts (company_id, doc_type, source_id, revision, trigger, "
            "started_at, outcome, detail, state, pending_since) SELECT company_id, doc_type, "
            "source_id, %s, trigger, %s, %s, %s, state, (SELECT pending_since FROM before) "
            "FROM updated"
        )
        statement = f"{ctes} {history}"
        arguments = (
            *params,
            *values,
            *params,
            revision,
            started_at,
            outcome,
            Jsonb({"skip_reason": skip_reason, "error": error, "qbo": qbo or None}),
        )
        if ending is not None and release is None:
            raise ValueError("ending goes with release")
        if release is not None:
            if follow_newer_revision:
                raise ValueError("release and follow_newer_revision do not go together")
            lock, kinds = release
            # The same statement also finds the documents waiting on the lock (as of before the
            # update, which changes none of them): no round trip of its own; and, when none
            # waits, ends the run's queue job (procrastinate's own function, as its worker
            # would call it next): no round trip for that either.
            combined = (
                f"{ctes}, logged AS ({history} RETURNING 1), waiting AS ({WAITING}), "
                "ended AS (SELECT procrastinate_finish_job_v1(j.id, 'succeeded', false) "
                "FROM procrastinate_jobs j WHERE j.id = %s AND j.status = 'doing' "
                "AND EXISTS (SELECT FROM logged) AND NOT EXISTS (SELECT FROM waiting)) "
                "SELECT (SELECT count(*) FROM logged), (SELECT count(*) FROM ended), "
                "w.doc_type, w.source_id, w.revision "
                "FROM (SELECT 1) AS one LEFT JOIN waiting AS w ON true"
            )
            job_id = ending.id if ending is not None else None
            async with self._pool.connection() as conn:
                cursor = await conn.execute(
                    combined,
                    (*arguments, *waiting_params(key.company_id, lock, kinds), job_id),
                    prepare=True,  # see `_record_on`
                )
                rows = await cursor.fetchall()
                if rows and rows[0][0]:
                    if ending is not None and rows[0][1]:
                        ending.ended = True
                    found = [row[2:] for row in rows if row[2] is not None]
                    if found:
                        async with conn.transaction():
                            await schedule_rows(conn, key.company_id, lock, found)
                    return
            # No ledger row yet (a name-list record): the usual way, then the waiting ones.
            await self._record_one(
                key,
                state=state,
                revision=revision,
                started_at=started_at,
                outcome=outcome,
                skip_reason=skip_reason,
                error=error,
                counts_as_attempt=counts_as_attempt,
                qbo=qbo,
            )
            async with self._pool.connection() as conn, conn.transaction():
                cursor = await conn.execute(WAITING, waiting_params(key.company_id, lock, kinds))
                await schedule_rows(conn, key.company_id, lock, await cursor.fetchall())
            return
        async with self._pool.connection() as conn:
            if follow_newer_revision:
                async with conn.transaction():
                    # FOR SHARE waits for a PUT of this document in flight: either it committed
                    # first (its newer revision is seen here) or it runs after this commits
                    # (and finds the QBO Id, so it schedules the job itself).
                    cursor = await conn.execute(
                        f"SELECT revision FROM documents WHERE {where} FOR SHARE", params
                    )
                    row = await cursor.fetchone()
                    await self._record_on(conn, statement, arguments, params)
                    if row is not None and int(row[0]) > revision:
                        await schedule_sync(
                            conn, key, revision=int(row[0]), trigger=Trigger.AUTOMATIC
                        )
                return
            await self._record_on(conn, statement, arguments, params)

    @staticmethod
    async def _record_on(
        conn: AsyncConnection[Any],
        statement: str,
        arguments: tuple[object, ...],
        params: tuple[object, ...],
    ) -> None:
        # Prepared at once: by key, so its generic plan is what a custom one would be, and
        # PostgreSQL takes it after five calls on a connection instead of planning every call
        # (psycopg prepares only after five; a short-lived worker never got there).
        cursor = await conn.execute(statement, arguments, prepare=True)
        if cursor.rowcount == 0:
            async with conn.transaction():
                # A customer or product gets its row when an order first needs it in QBO.
                await conn.execute(
                    "INSERT INTO sync_records (company_id, doc_type, source_id, state, "
                    "trigger) VALUES (%s, %s, %s, 'pending', 'automatic') "
                    "ON CONFLICT DO NOTHING",
                    params,
                )
                await conn.execute(statement, arguments)

    async def intend(
        self,
        key: DocumentKey,
        intent: WriteIntent | None,
        *,
        follow_up: bool = False,
        clear_synced_hash: bool = False,
    ) -> None:
        """Remember a create (or a delete) about to be sent (None: forget it, nothing was
        written).

        `clear_synced_hash`: what QBO holds may no longer be what was synced (a delete in
        flight), so no later write may be skipped as unchanged.

        `follow_up`: the create is made by another document's job (an order creating its
        customer); the document's own job is deferred in the same statement, so whatever
        happens to that job (a lost answer, a kill, the order moving elsewhere), someone
        settles the outcome. It waits for the cross-process lock the creator holds.
        """
        upsert = (
            "INSERT INTO sync_records AS r (company_id, doc_type, source_id, state, trigger, "
            "write_intent) VALUES (%(company)s, %(type)s, %(id)s, 'pending', 'automatic', "
            "%(intent)s) ON CONFLICT (company_id, doc_type, source_id) DO UPDATE SET "
            "write_intent = EXCLUDED.write_intent, synced_hash = CASE WHEN %(clear)s THEN NULL "
            "ELSE r.synced_hash END"
        )
        values: dict[str, object] = {
            "clear": clear_synced_hash,
            "company": key.company_id,
            "type": key.doc_type.value,
            "id": key.source_id,
            "intent": None if intent is None else Jsonb(intent.as_json()),
        }
        async with self._pool.connection() as conn:
            if follow_up and intent is not None:
                await defer_job(
                    conn, sync_job_params(key, lock=key.lock()), along_with=(upsert, values)
                )
            else:
                await conn.execute(upsert, values)


_QBO_COLUMNS = ("qbo_entity", "qbo_id", "sync_token", "synced_hash")


@dataclass(frozen=True, kw_only=True)
class _Synced:
    """One `LedgerRepository.record` of a document synced to a QBO object, with `release`."""

    key: DocumentKey
    revision: int
    started_at: datetime
    outcome: str
    qbo: dict[str, Any]
    release: tuple[str, Sequence[DocumentType]]
    ending: QueueJob | None


_SYNCED_MANY = (
    "WITH k AS (SELECT * FROM unnest(%(companies)s::bigint[], %(types)s::text[], "
    "%(ids)s::text[], %(revisions)s::bigint[], %(started)s::timestamptz[], %(outcomes)s::text[], "
    "%(details)s::jsonb[], %(entities)s::text[], %(qbo_ids)s::text[], %(tokens)s::text[], "
    "%(hashes)s::text[], %(locks)s::text[], %(kinds)s::text[], %(jobs)s::bigint[]) "
    "WITH ORDINALITY AS k(company_id, doc_type, source_id, revision, started_at, outcome, "
    "detail, qbo_entity, qbo_id, sync_token, synced_hash, lock, kinds, job_id, n)), "
    # As `_record_one` for state synced with a QBO object: the row before (its wait), the
    # outcome, its line in the history, the documents waiting on each one's lock (as of before
    # the update), and each one's job ended when nothing waits on its lock.
    "before AS (SELECT s.company_id, s.doc_type, s.source_id, s.pending_since "
    "FROM sync_records s JOIN k USING (company_id, doc_type, source_id)), "
    "updated AS (UPDATE sync_records s SET state = 'synced', skip_reason = NULL, error = NULL, "
    "updated_at = now(), attempts = 0, failing_since = NULL, pending_since = NULL, "
    "synced_at = now(), synced_revision = k.revision, qbo_entity = k.qbo_entity, "
    "qbo_id = k.qbo_id, sync_token = k.sync_token, synced_hash = k.synced_hash, "
    "write_intent = NULL FROM k WHERE s.company_id = k.company_id AND s.doc_type = k.doc_type "
    "AND s.source_id = k.source_id RETURNING s.company_id, s.doc_type, s.source_id, s.trigger, "
    "s.state), "
    "logged AS (INSERT INTO sync_attempts (company_id, doc_type, source_id, revision, trigger, "
    "started_at, outcome, detail, state, pending_since) SELECT u.company_id, u.doc_type, "
    "u.source_id, k.revision, u.trigger, k.started_at, k.outcome, k.detail, u.state, "
    "b.pending_since FROM updated u JOIN k USING (company_id, doc_type, source_id) "
    "LEFT JOIN before b USING (company_id, doc_type, source_id) RETURNING company_id, doc_type, "
    "source_id), "
    "waiting AS (SELECT k.n, d.doc_type, d.source_id, d.revision, d.first_seen_at "
    "FROM k JOIN documents d ON d.company_id = k.company_id AND d.job_lock = k.lock "
    "AND d.doc_type = ANY(string_to_array(k.kinds, ',')) "
    "WHERE (SELECT r.state FROM sync_records r WHERE r.company_id = d.company_id "
    "AND r.doc_type = d.doc_type AND r.source_id = d.source_id) IN ('skipped', 'failed')), "
    "ended AS (SELECT k.n, procrastinate_finish_job_v1(j.id, 'succeeded', false) "
    "FROM k JOIN procrastinate_jobs j ON j.id = k.job_id WHERE j.status = 'doing' "
    "AND EXISTS (SELECT FROM logged l WHERE l.company_id = k.company_id "
    "AND l.doc_type = k.doc_type AND l.source_id = k.source_id) "
    "AND NOT EXISTS (SELECT FROM waiting w WHERE w.n = k.n)) "
    # count(*) runs `ended` to its end whatever the EXISTS below read of it.
    "SELECT k.n, (SELECT count(*) FROM ended), "
    "EXISTS (SELECT FROM logged l WHERE l.company_id = k.company_id "
    "AND l.doc_type = k.doc_type AND l.source_id = k.source_id), "
    "EXISTS (SELECT FROM ended e WHERE e.n = k.n), w.doc_type, w.source_id, w.revision "
    "FROM k LEFT JOIN waiting w ON w.n = k.n ORDER BY k.n, w.first_seen_at, w.source_id"
)


class _SyncedOutcomes:
    """Outcomes of documents synced to a QBO object, recorded at the same moment, in one
    statement (DataLoader style): the first caller waits for the event loop's ready tasks to
    run (those woken by the same batch answer reach here in that pass), then writes every
    outcome gathered meanwhile. What each caller gets is what `_record_one` gives it: its
    outcome and history line written atomically (all of them together), its waiting
    documents scheduled after it (each in its own transaction, as before), its job ended only
    when none waits. A lone outcome, a document given twice, or a statement that fails (a
    deadlock with another writer, say) goes through `_record_one`, one by one; so does one
    whose ledger row does not exist yet."""

    def __init__(self, ledger: LedgerRepository, *, passes: int = 3) -> None:
        self._ledger = ledger
        self._passes = passes
        self._pending: list[tuple[_Synced, asyncio.Future[None]]] = []
        self._writers: set[asyncio.Task[None]] = set()

    async def record(self, entry: _Synced) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, done))
        if len(self._pending) == 1:
            # A task of its own writes them, not a caller: a caller cancelled meanwhile (a
            # worker's shutdown) leaves the others' outcomes written all the same.
            writer = asyncio.get_running_loop().create_task(self._flush())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        await done

    async def _flush(self) -> None:
        gathered: list[tuple[_Synced, asyncio.Future[None]]] = []
        try:
            # The callers woken with the first one (a batch's answer) join meanwhile.
            for _ in range(self._passes):
                await asyncio.sleep(0)
            gathered, self._pending = self._pending, []
            await self._write(gathered)
        finally:
            for _, done in gathered:
                if not done.done():
                    done.set_exception(RuntimeError("the outcome's writer ended first"))

    async def _write(self, gathered: list[tuple[_Synced, asyncio.Future[None]]]) -> None:
        entries = [entry for entry, _ in gathered]
        alone: list[int] = list(range(len(entries)))
        waiting: dict[int, list[tuple[Any, ...]]] = {}
        if len(entries) > 1 and len({e.key for e in entries}) == len(entries):
            try:
                alone, waiting = await self._many(entries)
            except Exception as exc:  # each on its own: any failure is then its own
                log.info(
                    "outcomes written one by one",
                    extra={"action": "ledger.synced_many_failed", "error": type(exc).__name__},
                )
                alone = list(range(len(entries)))
        for n, (entry, done) in enumerate(gathered):
            try:
                if n in alone:
                    await self._ledger._record_one(
                        entry.key,
                        state="synced",
                        revision=entry.revision,
                        started_at=entry.started_at,
                        outcome=entry.outcome,
                        qbo=entry.qbo,
                        release=entry.release,
                        ending=entry.ending,
                    )
                elif waiting.get(n):
                    async with self._ledger._pool.connection() as conn, conn.transaction():
                        await schedule_rows(
                            conn, entry.key.company_id, entry.release[0], waiting[n]
                        )
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)
            else:
                if not done.done():
                    done.set_result(None)

    async def _many(
        self, entries: Sequence[_Synced]
    ) -> tuple[list[int], dict[int, list[tuple[Any, ...]]]]:
        """The one statement; returns the entries it wrote nothing for (no ledger row) and the
        documents waiting on each written one's lock."""
        values: dict[str, list[Any]] = {
            "companies": [e.key.company_id for e in entries],
            "types": [e.key.doc_type.value for e in entries],
            "ids": [e.key.source_id for e in entries],
            "revisions": [e.revision for e in entries],
            "started": [e.started_at for e in entries],
            "outcomes": [e.outcome for e in entries],
            "details": [Jsonb({"skip_reason": None, "error": None, "qbo": e.qbo}) for e in entries],
            "entities": [e.qbo["qbo_entity"] for e in entries],
            "qbo_ids": [e.qbo["qbo_id"] for e in entries],
            "tokens": [e.qbo["sync_token"] for e in entries],
            "hashes": [e.qbo["synced_hash"] for e in entries],
            "locks": [e.release[0] for e in entries],
            "kinds": [",".join(t.value for t in e.release[1]) for e in entries],
            "jobs": [e.ending.id if e.ending is not None else None for e in entries],
        }
        async with self._ledger._pool.connection() as conn:
            cursor = await conn.execute(_SYNCED_MANY, values)
            rows = await cursor.fetchall()
        alone: list[int] = []
        waiting: dict[int, list[tuple[Any, ...]]] = {}
        for n, _, logged, ended, doc_type, source_id, revision in rows:
            index = int(n) - 1
            if not logged:
                if index not in alone:
                    alone.append(index)
                continue
            ending = entries[index].ending
            if ended and ending is not None:
                ending.ended = True
            if doc_type is not None:
                waiting.setdefault(index, []).append((doc_type, source_id, revision))
        return alone, waiting
