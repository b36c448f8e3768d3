"""What the sync engine needs from the outside world, as Protocols owned here.

`rentsync.store` and `rentsync.qbo` implement them; `bootstrap` wires the real ones in, and
tests may pass their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rentsync.domain.connection import Connection
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, QueueJob, WriteIntent
from rentsync.domain.settings import SyncSettings


class Written(Protocol):
    """An entity as QBO returned it after a write or a read."""

    @property
    def id(self) -> str: ...

    @property
    def sync_token(self) -> str: ...

    @property
    def data(self) -> dict[str, Any]: ...

    @property
    def intuit_tid(self) -> str | None: ...


class QboGateway(Protocol):
    """The calls the engine makes to one QBO company (`rentsync.qbo.client.QboClient`)."""

    async def create(
        self, entity: str, payload: Mapping[str, Any], *, requestid: str
    ) -> Written: ...

    async def read(self, entity: str, entity_id: str) -> Written: ...

    async def sparse_update(
        self, entity: str, payload: Mapping[str, Any], *, requestid: str
    ) -> Written: ...

    async def delete(
        self, entity: str, entity_id: str, sync_token: str, *, requestid: str
    ) -> Written: ...

    async def void(
        self, entity: str, entity_id: str, sync_token: str, *, requestid: str
    ) -> Written: ...

    async def find_by(self, entity: str, field_name: str, value: str) -> list[dict[str, Any]]: ...

    async def find_by_doc_number(self, entity: str, doc_number: str) -> dict[str, Any] | None: ...

    async def query_all(
        self, entity: str, where: str = "", *, page_size: int = ..., order_by: str = ""
    ) -> list[dict[str, Any]]: ...

    def in_background(self) -> QboGateway:
        """The same company's client, whose calls take only the budget real-time work leaves
        spare (bulk sync, B9)."""
        ...


@dataclass(frozen=True, kw_only=True)
class CompanyQbo:
    """A company's QuickBooks side as one reconciliation sees it."""

    connection: Connection
    inventory_allowed: bool = False
    """The plan tracks inventory (Plus or higher) and quantity tracking is on."""
    automated_sales_tax: bool = False
    plan: str = ""
    """CompanyInfo's OfferingSku, e.g. "QuickBooks Online Plus" (empty: not known)."""
    client: QboGateway | None = None
    """None unless connected."""
    lost_reason: str | None = None
    """Why the connection was lost, while it is (what the user reads)."""


class QboAccess(Protocol):
    async def open(self, company_id: int) -> CompanyQbo: ...

    async def open_with_settings(
        self, company_id: int, *, version: str | None = None
    ) -> tuple[CompanyQbo, SyncSettings]:
        """`open` and the company's sync settings, read together (one round trip).
        `version`: the company's read version a statement of the caller's has just read
        (`Run.company_version`): what was read at that version may be reused, unread."""
        ...


class StoredDocumentView(Protocol):
    @property
    def revision(self) -> int: ...

    @property
    def body(self) -> dict[str, Any] | None: ...

    @property
    def first_seen_at(self) -> datetime: ...

    @property
    def deleted(self) -> bool: ...


class Documents(Protocol):
    async def get(self, key: DocumentKey) -> StoredDocumentView | None: ...

    async def get_many(
        self, keys: Sequence[DocumentKey]
    ) -> Mapping[DocumentKey, StoredDocumentView]: ...

    async def group(
        self, company_id: int, lock: str, doc_type: DocumentType
    ) -> Sequence[GroupMemberView]:
        """The live documents of `doc_type` whose jobs take `lock` (an order's payments)."""
        ...

    async def requeue_behind(
        self,
        key: DocumentKey,
        *,
        dependency: DocumentKey | None = None,
        kinds: Sequence[DocumentType] = (),
        job_id: int | None,
    ) -> bool:
        """Defer `key`'s sync again behind the sync of `dependency` or of any document of
        `kinds` queued under the same lock as the running job; False when none is queued."""
        ...

    async def others_pending(self, lead: DocumentKey, exclude: DocumentKey) -> bool:
        """Whether `lead` or another document taking its lock (not `exclude`) is pending."""
        ...

    async def schedule_waiting(
        self, company_id: int, lock: str, doc_types: Sequence[DocumentType]
    ) -> int:
        """Schedule the documents taking `lock` that ended skipped or failed."""
        ...


class GroupMemberView(Protocol):
    @property
    def source_id(self) -> str: ...

    @property
    def body(self) -> dict[str, Any]: ...

    @property
    def qbo_id(self) -> str | None: ...

    @property
    def state(self) -> str | None: ...


class LedgerRow(Protocol):
    @property
    def trigger(self) -> str: ...

    @property
    def last_user_action_at(self) -> datetime | None: ...

    @property
    def qbo_id(self) -> str | None: ...

    @property
    def sync_token(self) -> str | None: ...

    @property
    def synced_hash(self) -> str | None: ...

    @property
    def attempts(self) -> int: ...

    @property
    def write_generation(self) -> int:
        """Definite refusals so far: part of every requestid (see sync.reconcile)."""
        ...

    @property
    def failing_since(self) -> datetime | None: ...

    @property
    def error(self) -> dict[str, Any] | None: ...

    @property
    def state(self) -> str: ...

    @property
    def write_intent(self) -> dict[str, Any] | None:
        """A create whose outcome is not known yet (`domain.ledger.WriteIntent` as JSON)."""
        ...


class ReferencesView(Protocol):
    @property
    def snapshots(self) -> Mapping[DocumentKey, StoredDocumentView]: ...

    @property
    def records(self) -> Mapping[DocumentKey, LedgerRow]: ...

    @property
    def noted(self) -> bool:
        """Whether the write intent asked for was noted."""
        ...


class Ledger(Protocol):
    async def get(self, key: DocumentKey) -> LedgerRow | None: ...

    async def get_with_document(
        self, key: DocumentKey
    ) -> tuple[StoredDocumentView | None, LedgerRow | None, str | None]:
        """The snapshot, the ledger row and the company's read version (`QboAccess`)."""
        ...

    async def get_many(self, keys: Sequence[DocumentKey]) -> Mapping[DocumentKey, LedgerRow]: ...

    async def references(
        self, keys: Sequence[DocumentKey], *, noting: tuple[DocumentKey, WriteIntent] | None = None
    ) -> ReferencesView:
        """Several documents' snapshots and ledger rows in one round trip; `noting` notes the
        write intent of a document about to be created (no QBO object, no intent yet) in it."""
        ...

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
    ) -> None: ...

    async def intend(
        self,
        key: DocumentKey,
        intent: WriteIntent | None,
        *,
        follow_up: bool = False,
        clear_synced_hash: bool = False,
    ) -> None: ...


class TaxRateView(Protocol):
    @property
    def qbo_id(self) -> str: ...


class CompanySettings(Protocol):
    async def get(self, company_id: int) -> SyncSettings: ...

    async def tax_rates(self, company_id: int) -> list[Any]: ...


class Locks(Protocol):
    def hold(self, name: str) -> AbstractAsyncContextManager[None]: ...
