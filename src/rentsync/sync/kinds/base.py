"""What a document kind is, for the engine: one declaration per QBO document kind.

A kind declares, in its own module under `sync/kinds/`, everything that differs between kinds:
its ingest model (domain), how often it syncs, its job lock, its retry rule (R15), and a
handler that brings QBO in line with one snapshot (policy, dependencies, mapping, write,
read-back) or with its deletion. The generic reconciler (`sync.reconcile`) reads the snapshot
and the ledger row, calls the handler, and records any failure through the one retry table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from rentsync.domain.bulk import BulkRule
from rentsync.domain.documents import Document, DocumentType
from rentsync.domain.ledger import DocumentKey, QueueJob, SyncState
from rentsync.domain.listing import Listing
from rentsync.domain.triggers import Trigger
from rentsync.qbo import errors
from rentsync.sync.batching import BatchCoalescer
from rentsync.sync.failures import QueuedBehind
from rentsync.sync.known_ids import KnownIds
from rentsync.sync.ports import (
    CompanyQbo,
    CompanySettings,
    Documents,
    Ledger,
    LedgerRow,
    Locks,
    QboAccess,
    QboGateway,
    StoredDocumentView,
)
from rentsync.sync.references import NameListKind, References


@dataclass(frozen=True, kw_only=True)
class Run:
    """One reconciliation of one document: what the handler works from."""

    key: DocumentKey
    document: StoredDocumentView
    record: LedgerRow
    started: datetime
    company_version: str | None = None
    """The company's read version as the run's first read found it (`QboAccess`)."""
    job: QueueJob | None = None
    """The queue job running it, which the statement recording the outcome may end."""


@dataclass(frozen=True, kw_only=True)
class Engine:
    """The engine's services a handler may use (the ports, wired once in `bootstrap`)."""

    documents: Documents
    ledger: Ledger
    settings: CompanySettings
    qbo: QboAccess
    locks: Locks | None = None
    """Cross-process locks (e.g. to create a QBO name-list record once)."""
    batching: BatchCoalescer | None = None
    """Gathers the creates and lookups of bulk-sync jobs into QBO batch requests
    (`sync.batching`)."""
    known_ids: KnownIds = field(default_factory=KnownIds)
    """QBO Ids resolved by name that this process keeps while they hold (payment methods)."""

    def client_for(self, run: Run, company: CompanyQbo) -> QboGateway:
        """The company's client for this run. A bulk sync's calls take only the budget
        real-time work leaves spare (the limiter's background slots, B9), and its creates and
        lookups travel in batches."""
        client = client_of(company)
        if run.record.trigger != Trigger.BULK_SYNC:
            return client
        client = client.in_background()
        return self.batching.gateway(client) if self.batching is not None else client

    async def synced(
        self, run: Run, outcome: str, qbo: dict[str, Any] | None = None, **extra: Any
    ) -> None:
        await self.ledger.record(
            run.key,
            state=SyncState.SYNCED,
            revision=run.document.revision,
            started_at=run.started,
            outcome=outcome,
            qbo=qbo,
            **extra,
        )

    async def not_behind(self, run: Run, dependency: DocumentKey, record: LedgerRow | None) -> None:
        """Raises QueuedBehind when `dependency` has a change still to sync (its ledger row
        pending) whose job is queued behind this run's under the same lock: this run's snapshot
        may need that change in QuickBooks first (a payment of a bill's new amount), so the
        document's sync is deferred again behind it. A lock's earlier jobs run first, so a
        pending dependency of a running job is queued after it (or at a lower priority)."""
        if record is None or record.state != SyncState.PENDING:
            return
        job_id = run.job.id if run.job is not None else None
        if await self.documents.requeue_behind(run.key, dependency=dependency, job_id=job_id):
            raise QueuedBehind(dependency.lock())

    async def not_behind_any(self, run: Run, kinds: tuple[DocumentType, ...]) -> None:
        """Raises QueuedBehind when a document of `kinds` has a sync queued behind this run's
        job under the same lock: a deletion QBO refuses while documents linked to it are still
        there (a bill with payments applied, 6220) waits for their queued changes (their own
        deletions, sent after it) instead of failing. Over-broad on purpose (any such document
        of the lock: a deleted payment no longer says which bill it paid); it only waits."""
        job_id = run.job.id if run.job is not None else None
        if await self.documents.requeue_behind(run.key, kinds=kinds, job_id=job_id):
            raise QueuedBehind(" or ".join(kind.value for kind in kinds))

    async def skipped(self, run: Run, *, reason: str, message: str) -> None:
        await self.ledger.record(
            run.key,
            state=SyncState.SKIPPED,
            revision=run.document.revision,
            started_at=run.started,
            outcome=message,
            skip_reason=reason,
        )


def client_of(company: CompanyQbo) -> QboGateway:
    """The company's QBO client; NotConnected (recorded as a skip, R13) without one."""
    if company.client is None:
        raise errors.NotConnected("QuickBooks is not connected")
    return company.client


class KindHandler(Protocol):
    async def sync(self, run: Run) -> str:
        """Make QBO match the live snapshot; returns the outcome (raises to fail or retry)."""
        ...

    async def remove(self, run: Run) -> str:
        """The document was deleted in the rental system: what QBO should hold now."""
        ...


@dataclass(frozen=True, kw_only=True)
class KindSpec:
    """One line of the registry: a document kind and everything that differs between kinds."""

    doc_type: DocumentType
    plural: str
    """The ingest path: `/api/v1/{plural}/{id}`."""
    model: type[Document]
    example: dict[str, Any] = field(repr=False)
    """A realistic body, shown in the OpenAPI document."""
    syncs_on_every_change: bool
    """True: every stored change schedules a sync (transactions). False: only once QBO holds
    the record or may hold it (name-list records, created by the first document needing them)."""
    max_attempts: int = 2
    """R15: permanent failures before the document is marked failed (the seed: "one or two")."""
    handler: Callable[[Engine, References], KindHandler] = field(repr=False)
    """Builds the handler from the engine and the shared name-list resolver."""
    name_list: NameListKind | None = field(default=None, repr=False)
    """For a name-list kind (customer, product, ...): its part in find-or-create."""
    follows: Callable[[DocumentKey, dict[str, Any]], DocumentKey] | None = field(
        default=None, repr=False
    )
    """The document this one follows (a payment: its order). Its jobs take that document's lock,
    so they run one at a time and in order with it, and a change schedules that document's sync
    first unless it is synced (a quote's first payment brings its invoice to QBO, R11)."""
    parts: (
        Callable[[DocumentKey, dict[str, Any]], list[tuple[DocumentKey, dict[str, Any]]]] | None
    ) = field(default=None, repr=False)
    """Documents derived from a snapshot, stored with it (a payment's refunds and its void):
    each is synced as its own document, one QBO object per ledger row."""
    part_types: tuple[DocumentType, ...] = ()
    """The kinds of `parts`: a part the snapshot no longer has is deleted."""
    ingest: bool = True
    """False: a part of another kind's document, with status and resync routes only."""
    listing: Listing = field(default_factory=lambda: Listing(title="Document"), repr=False)
    """How it shows in the console's lists and search (number, name, date, amount, party)."""
    bulk: BulkRule | None = field(default=None, repr=False)
    """Its part in a bulk sync (R14, R18): the kind a user selects it by, what it costs, what
    it depends on, why the preview says it is skipped or fails. None: synced only as another
    document's reference (customers, products, vendors)."""
