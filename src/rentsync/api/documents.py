"""The ingest API: the rental system PUTs the whole current state of a document, or DELETEs it.

A PUT validates the body (422 naming every bad field; nothing stored), then stores the snapshot
and schedules its sync in one transaction, and answers 202 with the sync-status URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, Field

from rentsync.api.auth import CurrentPrincipal
from rentsync.api.deps import ServicesDep
from rentsync.api.schemas import SyncStatus, connected_now, error_responses, status_of
from rentsync.bootstrap import Services
from rentsync.domain.documents import ChangeReason, Document, DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.triggers import Trigger
from rentsync.domain.values import MAX_VERSION, SourceId
from rentsync.store.documents import Part
from rentsync.sync.kinds import KINDS, kind_for
from rentsync.sync.kinds.base import KindSpec

SourceIdPath = Annotated[SourceId, Path(description="The rental system's id of the document.")]

PLURAL = {kind.doc_type: kind.plural for kind in KINDS}


class Accepted(BaseModel):
    accepted: bool = Field(description="False when an older version was ignored.")
    detail: str
    revision: int
    status_url: str


_IGNORED: dict[int | str, dict[str, Any]] = {
    200: {"model": Accepted, "description": "An older version than the stored one: ignored."}
}


def status_url(doc_type: DocumentType, source_id: str) -> str:
    return f"/api/v1/{PLURAL[doc_type]}/{source_id}/sync"


async def _store(
    services: Services,
    key: DocumentKey,
    document: Document | None,
    response: Response,
    *,
    deleted_at_version: int | None = None,
) -> Accepted:
    body = None if document is None else document.model_dump(mode="json", exclude={"version"})
    version = deleted_at_version if document is None else document.version
    reason = getattr(document, "reason", None)
    kind = kind_for(key.doc_type)
    lead = kind.follows(key, body) if kind.follows is not None and body is not None else None
    parts = kind.parts(key, body) if kind.parts is not None and body is not None else []
    result = await services.documents.put(
        key,
        body,
        version=version,
        reason=reason if isinstance(reason, ChangeReason) else ChangeReason.UPDATED,
        every_change=kind.syncs_on_every_change,
        job_lock=lead.lock() if lead is not None else None,
        first=[lead] if lead is not None else [],
        parts=[Part(key=part_key, body=part_body) for part_key, part_body in parts],
        part_types=kind.part_types,
    )
    url = status_url(key.doc_type, key.source_id)
    response.headers["Location"] = url
    if not result.stored:
        response.status_code = status.HTTP_200_OK
        return Accepted(
            accepted=False,
            detail=(
                f"version {version} is not newer than the stored version "
                f"{result.stored_version}{' (deleted)' if result.deleted else ''}; ignored"
            ),
            revision=result.revision,
            status_url=url,
        )
    what = "deletion" if document is None else "change"
    return Accepted(
        accepted=True,
        detail=f"{what} stored; sync scheduled",
        revision=result.revision,
        status_url=url,
    )


async def _status(services: Services, key: DocumentKey, *, history: bool) -> SyncStatus:
    document = await services.documents.get(key)
    if document is None:
        raise HTTPException(404, detail=f"no {key.doc_type.value} {key.source_id!r}")
    record = await services.ledger.get(key)
    attempts = await services.ledger.attempts(key) if history and record else None
    connected = await connected_now(services, key.company_id) if record else False
    return status_of(
        key.doc_type.value, key.source_id, record, document, attempts, connected_now=connected
    )


def _add_part_routes(router: APIRouter, kind: KindSpec) -> None:
    """A part of another kind's document (a payment's refund, its void): status and resync
    only; its id names its parent (`<payment id>/<refund id>`)."""
    doc_type, noun = kind.doc_type, kind.doc_type.value

    async def read_status(
        source_id: Annotated[str, Path(min_length=1, max_length=130)],
        principal: CurrentPrincipal,
        services: ServicesDep,
    ) -> SyncStatus:
        key = DocumentKey(principal.company_id, doc_type, source_id)
        return await _status(services, key, history=True)

    async def resync(
        source_id: Annotated[str, Path(min_length=1, max_length=130)],
        principal: CurrentPrincipal,
        services: ServicesDep,
        response: Response,
    ) -> SyncStatus:
        key = DocumentKey(principal.company_id, doc_type, source_id)
        if await services.documents.schedule(key, trigger=Trigger.RESYNC) is None:
            raise HTTPException(404, detail=f"no {noun} {source_id!r}")
        response.headers["Location"] = status_url(doc_type, source_id)
        return await _status(services, key, history=False)

    router.add_api_route(
        f"/{kind.plural}/{{source_id:path}}/sync",
        read_status,
        methods=["GET"],
        response_model=SyncStatus,
        responses=error_responses(404),
        summary=f"A {noun}'s sync status, error and remedy, and its history of attempts",
        name=f"{noun}_sync_status",
    )
    router.add_api_route(
        f"/{kind.plural}/{{source_id:path}}/resync",
        resync,
        methods=["POST"],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=SyncStatus,
        responses=error_responses(404),
        summary=f"Resync a {noun} (after fixing the cause of a failure)",
        name=f"resync_{noun}",
    )


def _add_routes(router: APIRouter, kind: KindSpec) -> None:
    if not kind.ingest:
        _add_part_routes(router, kind)
        return
    doc_type, model, example = kind.doc_type, kind.model, kind.example
    plural = kind.plural
    noun = doc_type.value

    async def put_document(
        source_id: SourceIdPath,
        document: Document,
        principal: CurrentPrincipal,
        services: ServicesDep,
        response: Response,
    ) -> Accepted:
        key = DocumentKey(principal.company_id, doc_type, source_id)
        return await _store(services, key, document, response)

    # The body's model differs per document type; annotations are strings under
    # `from __future__ import annotations`, so give FastAPI the real type here.
    put_document.__annotations__["document"] = Annotated[model, Body(examples=[example])]

    async def delete_document(
        source_id: SourceIdPath,
        principal: CurrentPrincipal,
        services: ServicesDep,
        response: Response,
        version: Annotated[
            int | None,
            Query(
                ge=0,
                le=MAX_VERSION,
                description=(
                    "The version deleted (optional): a DELETE older than the stored version is "
                    "ignored; without it the deletion keeps the stored version, so a late PUT "
                    "of that version or an older one cannot bring the document back."
                ),
            ),
        ] = None,
    ) -> Accepted:
        key = DocumentKey(principal.company_id, doc_type, source_id)
        if await services.documents.get(key) is None:
            raise HTTPException(404, detail=f"no {noun} {source_id!r}")
        return await _store(services, key, None, response, deleted_at_version=version)

    async def read_status(
        source_id: SourceIdPath,
        principal: CurrentPrincipal,
        services: ServicesDep,
    ) -> SyncStatus:
        key = DocumentKey(principal.company_id, doc_type, source_id)
        return await _status(services, key, history=True)

    async def resync(
        source_id: SourceIdPath,
        principal: CurrentPrincipal,
        services: ServicesDep,
        response: Response,
    ) -> SyncStatus:
        key = DocumentKey(principal.company_id, doc_type, source_id)
        if await services.documents.schedule(key, trigger=Trigger.RESYNC) is None:
            raise HTTPException(404, detail=f"no {noun} {source_id!r}")
        response.headers["Location"] = status_url(doc_type, source_id)
        return await _status(services, key, history=False)

    router.add_api_route(
        f"/{plural}/{{source_id}}",
        put_document,
        methods=["PUT"],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses=_IGNORED,
        summary=f"Store the current state of a {noun} and schedule its sync",
        name=f"put_{noun}",
    )
    router.add_api_route(
        f"/{plural}/{{source_id}}",
        delete_document,
        methods=["DELETE"],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses={**_IGNORED, **error_responses(404)},
        summary=f"Record that a {noun} was deleted (and delete its QBO counterpart if any)",
        name=f"delete_{noun}",
    )
    router.add_api_route(
        f"/{plural}/{{source_id}}/sync",
        read_status,
        methods=["GET"],
        response_model=SyncStatus,
        responses=error_responses(404),
        summary=f"A {noun}'s sync status, error and remedy, and its history of attempts",
        name=f"{noun}_sync_status",
    )
    router.add_api_route(
        f"/{plural}/{{source_id}}/resync",
        resync,
        methods=["POST"],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=SyncStatus,
        responses=error_responses(404),
        summary=f"Resync a {noun} (after fixing the cause of a failure)",
        name=f"resync_{noun}",
    )


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["documents"])
    for kind in KINDS:
        _add_routes(router, kind)
    return router
