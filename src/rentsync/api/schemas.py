"""Response bodies shared by the routes: sync status, and the one shape of an error."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from rentsync.bootstrap import Services
from rentsync.domain.ledger import SkipReason, skip_notice
from rentsync.store.documents import StoredDocument
from rentsync.store.ledger import Attempt, SyncRecord


class ErrorOut(BaseModel):
    """Every error but a 422 (whose `detail` is FastAPI's list of {type, loc, msg})."""

    detail: str
    code: str | None = Field(default=None, description="QuickBooks' code, when it answered.")
    remedy: str | None = Field(default=None, description="What to do about it.")
    intuit_tid: str | None = None


_ERROR_MEANINGS = {
    401: "No API key, or an unknown, revoked or expired one.",
    403: "The API key lacks the permission this needs.",
    404: "No such document (or object) for this company.",
    409: "Not now: QuickBooks is not connected (or the connection was lost), or the request "
    "would undo itself (revoking the calling key).",
    429: "Too many at once (a company's bulk-sync previews being prepared): retry after "
    "`Retry-After` seconds, or see the remedy.",
    502: "QuickBooks refused or failed: its code, message and the remedy.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors a route answers (401 and 422 are declared for every
    route that can answer them, in `api.app`)."""
    return {code: {"model": ErrorOut, "description": _ERROR_MEANINGS[code]} for code in codes}


class QboRef(BaseModel):
    entity: str
    id: str


class Skip(BaseModel):
    reason: str
    message: str
    remedy: str = Field(description="What to do if the document should reach QuickBooks.")


class SyncError(BaseModel):
    code: str = Field(description="QBO's fault code, or rentsync's (e.g. TAX_MISMATCH).")
    message: str
    detail: str = ""
    remedy: str = Field(description="What to change, and where, before pressing Resync.")
    category: str = Field(description="What kind of failure: the error class in the catalogue.")
    element: str = ""
    intuit_tid: str | None = None


class AttemptOut(BaseModel):
    revision: int
    trigger: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    detail: dict[str, Any] | None


class SyncStatus(BaseModel):
    doc_type: str
    source_id: str
    state: str = Field(
        description="pending, synced, skipped or failed; not_synced when nothing needed it yet."
    )
    deleted: bool = False
    revision: int | None = Field(description="rentsync's revision of the stored document.")
    synced_revision: int | None = None
    qbo: QboRef | None = None
    skip: Skip | None = None
    error: SyncError | None = None
    attempts: int = Field(
        default=0, description="Failed attempts that counted against the job's limit."
    )
    trigger: str | None = None
    updated_at: datetime | None = None
    synced_at: datetime | None = None
    history: list[AttemptOut] | None = None


async def connected_now(services: Services, company_id: int) -> bool:
    return (await services.qbo.status(company_id)).state == "connected"


def skip_of(code: str | None, *, connected_now: bool) -> Skip | None:
    if code is None:
        return None
    try:
        reason = SkipReason(code)
    except ValueError:
        return Skip(reason=code, message=code, remedy="")
    notice = skip_notice(reason, connected_now=connected_now)
    return Skip(reason=code, message=notice.message, remedy=notice.remedy)


def status_of(
    doc_type: str,
    source_id: str,
    record: SyncRecord | None,
    document: StoredDocument | None,
    history: list[Attempt] | None = None,
    *,
    connected_now: bool = False,
) -> SyncStatus:
    """`connected_now`: whether the company is connected to QuickBooks as this is shown (a skip's
    message depends on it)."""
    if record is None:
        return SyncStatus(
            doc_type=doc_type,
            source_id=source_id,
            state="not_synced",
            deleted=bool(document and document.deleted),
            revision=document.revision if document else None,
        )
    return SyncStatus(
        doc_type=doc_type,
        source_id=source_id,
        state=record.state,
        deleted=bool(document and document.deleted),
        revision=document.revision if document else None,
        synced_revision=record.synced_revision,
        qbo=QboRef(entity=record.qbo_entity, id=record.qbo_id)
        if record.qbo_entity and record.qbo_id
        else None,
        skip=skip_of(record.skip_reason, connected_now=connected_now)
        if record.state == "skipped"
        else None,
        error=SyncError.model_validate(record.error) if record.error else None,
        attempts=record.attempts,
        trigger=record.trigger,
        updated_at=record.updated_at,
        synced_at=record.synced_at,
        history=None
        if history is None
        else [
            AttemptOut(
                revision=a.revision,
                trigger=a.trigger,
                started_at=a.started_at,
                finished_at=a.finished_at,
                outcome=a.outcome,
                detail=a.detail,
            )
            for a in history
        ],
    )
