"""System messages: failures and skips across the company, newest first, each with its remedy,
"Resync" per message and "Resync all with this code" (both through `sync.resync`, audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from rentsync.api.deps import ServicesDep
from rentsync.domain.ledger import SkipReason, skip_notice
from rentsync.domain.people import Ability, ConsoleUser
from rentsync.store.ledger import SyncRecord
from rentsync.sync import resync
from rentsync.web import filters, kinds
from rentsync.web.actions import audited
from rentsync.web.auth import CurrentUser, requires
from rentsync.web.render import flash, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MayWork = Annotated[ConsoleUser, requires(Ability.WORK)]


def code_of(record: SyncRecord) -> str:
    if record.state == "skipped":
        return record.skip_reason or ""
    return str((record.error or {}).get("code") or "")


def resync_can_change(record: SyncRecord) -> bool:
    """Whether offering Resync makes sense: not for a skip the rental system's data decides."""
    if record.state != "skipped" or not record.skip_reason:
        return True
    try:
        return SkipReason(record.skip_reason).resync_can_change
    except ValueError:
        return True


def wording(record: SyncRecord, *, connected: bool) -> tuple[str, str, str]:
    """(message, detail, remedy) as the message shows them."""
    if record.state == "skipped" and record.skip_reason:
        try:
            notice = skip_notice(SkipReason(record.skip_reason), connected_now=connected)
        except ValueError:
            return record.skip_reason, "", ""
        return notice.message, "", notice.remedy
    error = record.error or {}
    return (
        str(error.get("message") or ""),
        str(error.get("detail") or ""),
        str(error.get("remedy") or ""),
    )


@router.get("/messages")
async def messages(
    request: Request,
    user: CurrentUser,
    services: ServicesDep,
    code: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    doc_type = kinds.doc_type_of(kind) if kind else None
    problems = filters.Problems()
    start = filters.position(after, problems)
    records = await services.ledger.search(
        user.company_id,
        states=["failed", "skipped"],
        doc_type=doc_type.value if doc_type else None,
        error_code=code or None,
        limit=PAGE_SIZE,
        after=start,
    )
    connected = (await services.qbo.status(user.company_id)).state == "connected"
    items = [
        (r, code_of(r), *wording(r, connected=connected), resync_can_change(r)) for r in records
    ]
    last = records[-1] if len(records) == PAGE_SIZE else None
    return render(
        request,
        "messages.html",
        user,
        {
            "items": items,
            "titles": kinds.titles(),
            "code": code or "",
            "kind": doc_type.value if doc_type else "",
            "next_after": filters.position_of(last.updated_at, last.doc_type, last.source_id)
            if last
            else None,
            "problems": problems,
            "may_resync": user.may(Ability.WORK),
        },
    )


@router.post("/messages/resync-code")
async def resync_code(
    request: Request,
    user: MayWork,
    services: ServicesDep,
    code: Annotated[str, Form(min_length=1, max_length=64)],
) -> Response:
    names = await resync.resync_failing_with(
        services.documents, services.ledger, user.company_id, code
    )
    await audited(services, user, "documents.resync_code", code, {"documents": len(names)})
    flash(request, f"Resync scheduled for {len(names)} document(s) with {code}.")
    return RedirectResponse("/messages", status_code=303)
