"""Documents: one list across kinds (filters, search, paging, a link to QuickBooks per row), a
document's page (state, skip or error with the remedy, the history of attempts, what the
rental system sent and what QuickBooks holds) and "Resync with QuickBooks".

Resync goes through the same service as the API's (`sync.resync`) and is audited. Every read is
the signed-in user's company's: another company's document is a 404, like one that does not
exist.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from rentsync.api.deps import ServicesDep
from rentsync.bootstrap import Services
from rentsync.domain.ledger import DocumentKey, SkipReason, skip_notice
from rentsync.domain.listing import compared_figures
from rentsync.domain.people import Ability, ConsoleUser
from rentsync.qbo import errors, links
from rentsync.store.listing import DocumentFilter, ListedDocument, cursor_of
from rentsync.sync import resync
from rentsync.web import filters, kinds
from rentsync.web.actions import audited
from rentsync.web.auth import CurrentUser, requires
from rentsync.web.render import flash, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MayWork = Annotated[ConsoleUser, requires(Ability.WORK)]

# What QuickBooks holds, as the page shows it: (label, path into the QBO entity).
QBO_FIGURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Number", ("DocNumber",)),
    ("Name", ("DisplayName",)),
    ("Name", ("Name",)),
    ("Date", ("TxnDate",)),
    ("Total", ("TotalAmt",)),
    ("Tax", ("TxnTaxDetail", "TotalTax")),
    ("Open balance", ("Balance",)),
    ("Status", ("POStatus",)),
    ("Active", ("Active",)),
    ("SyncToken", ("SyncToken",)),
    ("Last changed in QuickBooks", ("MetaData", "LastUpdatedTime")),
)


def deep_link(
    services: Services, realm_id: str | None, entity: str | None, qbo_id: str | None
) -> str | None:
    settings = services.settings
    return links.document_url(
        settings.qbo_environment,
        entity,
        qbo_id,
        realm_id=realm_id,
        emulator_url=settings.qbo_emulator_url,
    )


@router.get("/documents")
async def documents(
    request: Request,
    user: CurrentUser,
    services: ServicesDep,
    kind: Annotated[list[str] | None, Query()] = None,
    state: Annotated[list[str] | None, Query()] = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    problems = filters.Problems()
    doc_types = [t for t in (kinds.doc_type_of(k) for k in kind or []) if t is not None]
    states = [s for s in state or [] if s in kinds.STATE_LABELS]
    chosen_filter = DocumentFilter(
        doc_types=doc_types,
        states=states,
        date_from=filters.day(date_from, "Dated from", problems),
        date_to=filters.day(date_to, "Dated to", problems),
        error_code=code or None,
        search=q.strip() if q and q.strip() else None,
    )
    start = filters.position(after, problems)
    rows = (
        []
        if problems
        else await services.document_list.page(
            user.company_id, kinds.listings(), chosen_filter, limit=PAGE_SIZE + 1, after=start
        )
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    status = await services.qbo.status(user.company_id)
    next_after = filters.position_of(*cursor_of(rows[-1])) if more and rows else None
    return render(
        request,
        "documents.html",
        user,
        {
            "rows": [
                (row, deep_link(services, status.realm_id, row.qbo_entity, row.qbo_id))
                for row in rows
            ],
            "titles": kinds.titles(),
            "states": kinds.STATES,
            "state_labels": kinds.STATE_LABELS,
            "badges": kinds.STATE_BADGES,
            "chosen": {
                "kind": [t.value for t in doc_types],
                "state": states,
                "from": date_from or "",
                "to": date_to or "",
                "code": code or "",
                "q": q or "",
            },
            "next_query": _next_query(request, next_after),
            "first_page": after is None,
            "problems": problems,
        },
        status_code=422 if problems else 200,
    )


def _next_query(request: Request, next_after: str | None) -> str | None:
    if next_after is None:
        return None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
    params.append(("after", next_after))
    return urlencode(params)


async def _document_or_404(
    services: Services, user: ConsoleUser, doc_type: str, source_id: str
) -> tuple[DocumentKey, ListedDocument]:
    parsed = kinds.doc_type_of(doc_type)
    listed = (
        await services.document_list.one(user.company_id, kinds.listings(), parsed, source_id)
        if parsed is not None
        else None
    )
    if parsed is None or listed is None:
        raise HTTPException(404, detail="no such document")
    return DocumentKey(user.company_id, parsed, source_id), listed


def _skip(reason: str | None, connected: bool) -> dict[str, str] | None:
    if reason is None:
        return None
    try:
        notice = skip_notice(SkipReason(reason), connected_now=connected)
    except ValueError:
        return {"reason": reason, "message": reason, "remedy": ""}
    return {"reason": reason, "message": notice.message, "remedy": notice.remedy}


@router.get("/documents/{doc_type}/{source_id:path}")
async def document_page(
    request: Request, doc_type: str, source_id: str, user: CurrentUser, services: ServicesDep
) -> Response:
    key, listed = await _document_or_404(services, user, doc_type, source_id)
    document = await services.documents.get(key)
    record = await services.ledger.get(key)
    history = await services.ledger.attempts(key) if record else []
    status = await services.qbo.status(user.company_id)
    return render(
        request,
        "document.html",
        user,
        {
            "doc": listed,
            "title": kinds.titles().get(listed.doc_type, listed.doc_type),
            "record": record,
            "history": history,
            "skip": _skip(record.skip_reason, status.state == "connected")
            if record and record.state == "skipped"
            else None,
            "error": record.error if record and record.state in ("failed", "pending") else None,
            "sent": json.dumps(document.body, indent=2, sort_keys=True)
            if document and document.body
            else None,
            "link": deep_link(services, status.realm_id, listed.qbo_entity, listed.qbo_id),
            "state_labels": kinds.STATE_LABELS,
            "badges": kinds.STATE_BADGES,
            "may_resync": user.may(Ability.WORK),
            "may_view_logs": user.may(Ability.VIEW_QBO_LOGS),
        },
    )


def _figure(entity: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = entity
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@router.get("/quickbooks-holds/{doc_type}/{source_id:path}")
async def quickbooks_holds(
    request: Request, doc_type: str, source_id: str, user: CurrentUser, services: ServicesDep
) -> Response:
    """What QuickBooks holds for the document now (read live; an htmx fragment of its page)."""
    key, listed = await _document_or_404(services, user, doc_type, source_id)
    context: dict[str, Any] = {"doc": listed, "figures": [], "compared": [], "problem": None}
    if listed.qbo_entity and listed.qbo_id:
        try:
            client = await services.qbo.client_for(user.company_id)
            result = await client.read(listed.qbo_entity, listed.qbo_id)
        except errors.QboError as exc:
            context["problem"] = exc.message or str(exc)
            if exc.remedy:
                context["problem"] += f" {exc.remedy}"
        else:
            context["figures"] = [
                (label, value)
                for label, path in QBO_FIGURES
                if (value := _figure(result.data, path)) is not None
            ]
            context["intuit_tid"] = result.intuit_tid
            document = await services.documents.get(key)
            if document is not None and document.body is not None:
                context["compared"] = compared_figures(
                    kinds.listings()[key.doc_type], document.body, result.data
                )
    return render(request, "quickbooks_holds.html", user, context)


@router.post("/documents/resync")
async def resync_document(
    request: Request,
    user: MayWork,
    services: ServicesDep,
    doc_type: Annotated[str, Form(max_length=40)],
    source_id: Annotated[str, Form(max_length=200)],
    back: Annotated[str, Form(max_length=20)] = "document",
) -> Response:
    key, listed = await _document_or_404(services, user, doc_type, source_id)
    await resync.resync_one(services.documents, key)
    title = kinds.titles().get(listed.doc_type, listed.doc_type)
    await audited(services, user, "document.resync", f"{doc_type}:{source_id}")
    flash(request, f"{title} {source_id}: resync scheduled.")
    target = "/messages" if back == "messages" else f"/documents/{doc_type}/{quote(source_id)}"
    return RedirectResponse(target, status_code=303)
