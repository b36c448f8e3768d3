"""The company-wide list of failures and skips ("system messages", R16) and bulk resync (R17)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from rentsync.api.auth import CurrentPrincipal
from rentsync.api.deps import ServicesDep
from rentsync.api.schemas import SyncStatus, connected_now, status_of
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import SyncState
from rentsync.sync import resync

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])


class Messages(BaseModel):
    items: list[SyncStatus]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


def _cursor(item: SyncStatus) -> str:
    assert item.updated_at is not None
    return f"{item.updated_at.isoformat()}|{item.doc_type}|{item.source_id}"


def _parse_cursor(cursor: str) -> tuple[datetime, str, str]:
    try:
        stamp, doc_type, source_id = cursor.split("|", 2)
        return datetime.fromisoformat(stamp), doc_type, source_id
    except ValueError:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "cursor"),
                    "msg": "not a cursor from a previous page (pass next_cursor as it came)",
                    "input": cursor,
                }
            ]
        ) from None


@router.get("/messages", response_model=Messages)
async def system_messages(
    principal: CurrentPrincipal,
    services: ServicesDep,
    state: Annotated[
        list[SyncState] | None,
        Query(description="Filter by state (repeatable); default failed and skipped."),
    ] = None,
    code: Annotated[
        str | None,
        Query(max_length=64, description="QBO or rentsync code, or a skip reason."),
    ] = None,
    doc_type: DocumentType | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Messages:
    states = [s.value for s in (state or [SyncState.FAILED, SyncState.SKIPPED])]
    records = await services.ledger.search(
        principal.company_id,
        states=states,
        doc_type=doc_type.value if doc_type else None,
        error_code=code,
        limit=limit,
        after=_parse_cursor(cursor) if cursor else None,
    )
    connected = await connected_now(services, principal.company_id)
    items = [status_of(r.doc_type, r.source_id, r, None, connected_now=connected) for r in records]
    return Messages(items=items, next_cursor=_cursor(items[-1]) if len(items) == limit else None)


class ResyncByCode(BaseModel):
    code: str = Field(min_length=1, max_length=64, examples=["6140"])


class Resynced(BaseModel):
    scheduled: int
    documents: list[str]


@router.post("/resync", status_code=status.HTTP_202_ACCEPTED, response_model=Resynced)
async def resync_failing_with_code(
    body: ResyncByCode, principal: CurrentPrincipal, services: ServicesDep
) -> Resynced:
    """Resync every document failing with `code`, or skipped for that reason (after fixing the
    cause once for all, e.g. connecting QuickBooks: `created_before_connection`)."""
    keys = await resync.resync_failing_with(
        services.documents, services.ledger, principal.company_id, body.code
    )
    return Resynced(scheduled=len(keys), documents=keys)
