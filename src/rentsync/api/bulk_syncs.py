"""Bulk sync (R18, B5): preview a selection of documents (every kind), confirm the preview to
start it, watch its progress, cancel it. The work itself is in `sync.bulk`; these routes are
thin."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rentsync import jobs
from rentsync.api.auth import CurrentPrincipal
from rentsync.api.deps import ServicesDep
from rentsync.api.schemas import ErrorOut, error_responses
from rentsync.domain import bulk as plan_rules
from rentsync.domain.bulk import Planned, Selection, State
from rentsync.domain.documents import DocumentType
from rentsync.domain.values import MAX_VERSION, Flag
from rentsync.store.bulk_syncs import BulkSyncRow, ItemRow
from rentsync.sync.bulk import BulkSyncRefused, NoSuchBulkSync, TooManyPreviews

router = APIRouter(prefix="/api/v1/bulk-syncs", tags=["bulk sync"])

BulkId = Annotated[int, Path(ge=1, le=MAX_VERSION, description="The bulk sync's id.")]


class BulkSyncIn(Selection):
    start: Flag = Field(
        default=False,
        description="Start as soon as the preview is ready, without a separate confirmation "
        "(the CLI's --yes). Default: preview only; POST .../start confirms it.",
    )


class PreviewOut(BaseModel):
    documents: int = Field(
        description="Documents selected (so far, while previewing), of every kind: orders and "
        "quotes, their payments, refunds and voids, purchase orders, vendor bills, vendor "
        "payments (`by_kind` splits them)."
    )
    orders: int = Field(
        description="Orders and quotes among the documents (each a QuickBooks invoice): "
        "`by_kind`'s order and quote. Not their payments, refunds or voids, nor vendor-side "
        "documents (before 2026-12-06 it counted every document, as `documents` does)."
    )
    by_kind: dict[str, int] = Field(
        description="The documents by kind: order, quote, payment, refund, payment_void, "
        "purchase_order, vendor_bill, vendor_payment (kinds without documents left out); "
        "they add up to `documents`."
    )
    create: int = Field(description="Documents the run creates in QuickBooks.")
    update: int = Field(description="Documents the run updates in QuickBooks.")
    skip: int = Field(
        description="Documents the run skips (with the reason: see the items), those QuickBooks "
        "already holds at their current version among them."
    )
    fail: int = Field(
        description="Documents the run would fail (a known failure: plan, mapping, tax, a "
        "reference never sent, or a refusal QuickBooks repeats); `create` + `update` + `skip` "
        "+ `fail` = `documents`."
    )
    qbo_operations: int = Field(
        description="QuickBooks operations the run makes, as each kind counts them (an "
        "invoice: its create; a payment: its look-up, its create, the "
        "invoice's read-back; ...), and two per customer, product or vendor QuickBooks does "
        "not hold yet (a look-up by name, then the create; up to 30 look-ups share one query)."
    )
    qbo_calls: int = Field(
        description="QuickBooks requests those operations take: creates and look-ups travel as "
        "items of batch requests (30 each, 40 batches a minute), the rest singly."
    )
    estimated_seconds: float = Field(
        description="The run's time at the bulk share of the ceiling (see ceiling)."
    )
    ceiling: str = Field(description="How the ceiling is computed.")


class ProgressOut(BaseModel):
    phase: str = Field(
        description="references: the customers, products and vendors QuickBooks lacks are "
        "synced first (their creates in batches), and only the documents whose references are "
        "settled go meanwhile; orders: every reference settled, the rest of the selected "
        "documents, each after what it depends on (a payment after its invoice, a bill after "
        "its purchase order, a vendor payment after its bills)."
    )
    references: int = Field(
        description="Customers, products and vendors to sync before the documents that need them."
    )
    references_settled: int = Field(description="Of those, synced, skipped or failed.")
    handed_to_sync: int
    waiting: int
    in_sync: int
    created: int
    updated: int
    skipped: int
    failed: int
    changed_since_preview: int
    differs_from_preview: int


class BulkSyncOut(BaseModel):
    id: int
    state: State
    selection: Selection
    start_when_previewed: bool
    preview: PreviewOut
    progress: ProgressOut
    created_at: datetime
    previewed_at: datetime | None
    started_at: datetime | None
    cancelled_at: datetime | None
    finished_at: datetime | None


class BulkSyncItemOut(BaseModel):
    seq: int
    kind: str = Field(
        description="order (orders and quotes), payment, refund, payment_void, "
        "purchase_order, vendor_bill, vendor_payment."
    )
    document_id: str
    order_id: str | None = Field(description="The order's id, for an order (else null).")
    planned: Planned
    reason: str | None
    message: str | None
    qbo_calls: int
    previewed_revision: int
    current_revision: int
    outcome: str = Field(description="waiting, pending (in the sync), synced, skipped, failed.")
    error_code: str | None


class BulkSyncList(BaseModel):
    items: list[BulkSyncOut]


class BulkSyncItems(BaseModel):
    items: list[BulkSyncItemOut]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null at the end."
    )


def _not_found(bulk_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"No bulk sync {bulk_id}.")


async def _refusals(action: Awaitable[BulkSyncRow]) -> BulkSyncRow:
    """404 for another company's or an unknown bulk sync, 409 for one in the wrong state."""
    try:
        return await action
    except NoSuchBulkSync as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except BulkSyncRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None


async def describe(services: ServicesDep, bulk: BulkSyncRow) -> BulkSyncOut:
    report = await services.bulk_syncs.report(bulk)
    progress = report.progress
    return BulkSyncOut(
        id=bulk.id,
        state=State(bulk.state),
        selection=Selection.model_validate(bulk.selection),
        start_when_previewed=bulk.start_when_previewed,
        preview=PreviewOut(
            documents=bulk.items,
            orders=plan_rules.orders_of(bulk.kinds),
            by_kind=plan_rules.by_kind(bulk.kinds),
            qbo_operations=bulk.estimated_calls,
            qbo_calls=report.calls,
            estimated_seconds=round(report.estimated.total_seconds(), 1),
            ceiling=report.ceiling,
            **{planned.value: report.planned(planned) for planned in Planned},
        ),
        progress=ProgressOut(
            phase=bulk.phase,
            references=report.references,
            references_settled=report.references_settled,
            handed_to_sync=bulk.dispatched,
            waiting=progress.waiting,
            in_sync=progress.in_sync,
            created=progress.created,
            updated=progress.updated,
            skipped=progress.skipped,
            failed=progress.failed,
            changed_since_preview=progress.changed_since_preview,
            differs_from_preview=progress.differs_from_preview,
        ),
        created_at=bulk.created_at,
        previewed_at=bulk.previewed_at,
        started_at=bulk.started_at,
        cancelled_at=bulk.cancelled_at,
        finished_at=bulk.finished_at,
    )


PREVIEW_RETRY_SECONDS = 5
"""`Retry-After` of a preview refused while the company's others are being prepared."""


def _create_refused(exc: BulkSyncRefused) -> JSONResponse:
    """409 (QuickBooks not connected: why, and what to do) or 429 (too many previews being
    prepared at once, `Retry-After`)."""
    busy = isinstance(exc, TooManyPreviews)
    return JSONResponse(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS if busy else status.HTTP_409_CONFLICT,
        content=ErrorOut(detail=exc.message, remedy=exc.remedy).model_dump(exclude_none=True),
        headers={"Retry-After": str(PREVIEW_RETRY_SECONDS)} if busy else None,
    )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BulkSyncOut,
    responses=error_responses(409, 429),
)
async def create_bulk_sync(
    body: BulkSyncIn, principal: CurrentPrincipal, services: ServicesDep
) -> BulkSyncOut | JSONResponse:
    """Preview a bulk sync of the selected documents (every condition given must hold; see
    `kinds` for the date and the number each kind is selected by). The
    preview runs on a worker; GET the bulk sync until `state` is `previewed`, then POST
    `.../start` to run it (or pass `start: true` to run it as soon as it is previewed).
    At most 3 of the company's previews are prepared at once: another is refused with 429
    (and `Retry-After`) until one of them is previewed or cancelled."""
    selection = Selection.model_validate(body.model_dump(exclude={"start"}))
    try:
        bulk = await services.bulk_syncs.create(
            principal.company_id, selection, start_when_previewed=body.start
        )
    except BulkSyncRefused as exc:
        return _create_refused(exc)
    await jobs.defer_bulk_sync(services.job_app, bulk.id)
    return await describe(services, bulk)


@router.get("", response_model=BulkSyncList)
async def list_bulk_syncs(
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> BulkSyncList:
    """The company's bulk syncs, newest first."""
    rows = await services.bulk_syncs.repository.recent(principal.company_id, limit=limit)
    return BulkSyncList(items=[await describe(services, row) for row in rows])


@router.get("/{bulk_id}", response_model=BulkSyncOut, responses=error_responses(404))
async def get_bulk_sync(
    bulk_id: BulkId, principal: CurrentPrincipal, services: ServicesDep
) -> BulkSyncOut:
    """The preview (what the run does, its QuickBooks calls and time) and the progress."""
    bulk = await services.bulk_syncs.repository.get(bulk_id, company_id=principal.company_id)
    if bulk is None:
        raise _not_found(bulk_id)
    return await describe(services, bulk)


@router.get("/{bulk_id}/items", response_model=BulkSyncItems, responses=error_responses(404))
async def bulk_sync_items(
    bulk_id: BulkId,
    principal: CurrentPrincipal,
    services: ServicesDep,
    planned: Planned | None = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> BulkSyncItems:
    """The preview per document (in the run's order) with its outcome so far."""
    repository = services.bulk_syncs.repository
    if await repository.get(bulk_id, company_id=principal.company_id) is None:
        raise _not_found(bulk_id)
    rows = await repository.items(bulk_id, after=after, limit=limit, planned=planned)
    return BulkSyncItems(
        items=[_item(row) for row in rows],
        next_after=rows[-1].seq if len(rows) == limit else None,
    )


def _item(row: ItemRow) -> BulkSyncItemOut:
    return BulkSyncItemOut(
        seq=row.seq,
        kind=row.doc_type,
        document_id=row.source_id,
        order_id=row.source_id if row.doc_type == DocumentType.ORDER else None,
        planned=Planned(row.planned),
        reason=row.reason,
        message=row.message,
        qbo_calls=row.calls,
        previewed_revision=row.revision,
        current_revision=row.current_revision,
        outcome=row.outcome,
        error_code=row.error_code,
    )


@router.post(
    "/{bulk_id}/start",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BulkSyncOut,
    responses=error_responses(404, 409),
)
async def start_bulk_sync(
    bulk_id: BulkId, principal: CurrentPrincipal, services: ServicesDep
) -> BulkSyncOut:
    """Confirm the preview: the run does what it said (409 unless `previewed`)."""
    started = await _refusals(services.bulk_syncs.start(principal.company_id, bulk_id))
    await jobs.defer_bulk_sync(services.job_app, bulk_id)
    return await describe(services, started)


@router.post(
    "/{bulk_id}/cancel",
    response_model=BulkSyncOut,
    responses=error_responses(404, 409),
)
async def cancel_bulk_sync(
    bulk_id: BulkId, principal: CurrentPrincipal, services: ServicesDep
) -> BulkSyncOut:
    """Stop handing documents to the sync. Those already in it finish their own sync (each is
    whole: nothing is left half-written); the others are not sent. 409 once it has ended."""
    cancelled = await _refusals(services.bulk_syncs.cancel(principal.company_id, bulk_id))
    return await describe(services, cancelled)
