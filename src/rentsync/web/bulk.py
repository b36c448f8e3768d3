"""Bulk sync (issue 13, R18, B5): the company's bulk syncs, a form for a new one, its preview
(what each order becomes, the QuickBooks calls and the time), Start and Cancel, and its progress
while it runs (counts, rate and ETA, refreshed by htmx).

Everything goes through the service the API and the CLI use (`sync.bulk.BulkSyncs`): the form's
selection is checked by the API's own model (`domain.bulk.Selection`), so the console names the
same problems, each next to its field, and stores nothing on bad input; Start and Cancel are the
service's, with its refusals (only a previewed bulk sync starts; an ended one cannot be
cancelled). Bookkeepers and owners act (`Ability.WORK`), viewers only see; every action is
audited; another company's bulk sync is a 404, like one that does not exist.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from rentsync import jobs
from rentsync.api.deps import ServicesDep
from rentsync.api.request_guard import text_problem
from rentsync.bootstrap import Services
from rentsync.domain.bulk import BulkKind, Planned, Selection, State, kinds_text, pace_of
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.people import Ability, ConsoleUser
from rentsync.domain.values import MAX_VERSION
from rentsync.store.bulk_syncs import BulkSyncRow, ItemRow
from rentsync.store.ledger import SyncRecord
from rentsync.sync.bulk import BulkSyncRefused, NoSuchBulkSync, Report, TooManyPreviews
from rentsync.web import filters
from rentsync.web.actions import audited
from rentsync.web.auth import CurrentUser, requires
from rentsync.web.render import flash, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
POLL_SECONDS = 2
LARGE = 10_000
POLL_SECONDS_LARGE = 10
"""A bulk sync of more than `LARGE` orders refreshes less often: its counts are one aggregate
over its items (about 0.5 s of the database at 100,000 orders, measured on this machine)."""
MayWork = Annotated[ConsoleUser, requires(Ability.WORK)]

FIELDS = ("date_from", "date_to", "numbers", "kinds", "not_in_qbo")
PLANNED_LABELS = {
    Planned.CREATE.value: "Create",
    Planned.UPDATE.value: "Update",
    Planned.SKIP.value: "Skip",
    Planned.FAIL.value: "Fail",
}
PLANNED_BADGES = {
    "create": "badge-ok",
    "update": "badge-ok",
    "skip": "badge-warn",
    "fail": "badge-bad",
}
OUTCOME_LABELS = {
    "waiting": "Waiting",
    "pending": "In the sync",
    "synced": "Synced",
    "skipped": "Skipped",
    "failed": "Failed",
    "not_synced": "Not synced",
}
OUTCOME_BADGES = {"synced": "badge-ok", "skipped": "badge-warn", "failed": "badge-bad"}
STATE_LABELS = {
    State.PREVIEWING.value: "Previewing",
    State.PREVIEWED.value: "Previewed: waiting for Start",
    State.RUNNING.value: "Running",
    State.CANCELLED.value: "Cancelled",
    State.DONE.value: "Done",
}
STATE_BADGES = {"done": "badge-ok", "cancelled": "badge-warn", "previewed": "badge-warn"}
_NUMBER_SEPARATORS = re.compile(r"[\s,;]+")
KINDS = frozenset(kind.value for kind in BulkKind)


def _echo(value: str) -> str:
    """A form value to show again in its field (not one that cannot be text)."""
    return value if text_problem(value) is None else ""


def selection_text(selection: dict[str, Any]) -> str:
    """A selection in words, as the list and the page show it."""
    parts = []
    if selection.get("date_from") or selection.get("date_to"):
        parts.append(
            f"dates {selection.get('date_from') or 'any'} to {selection.get('date_to') or 'any'}"
        )
    numbers = selection.get("numbers") or []
    if numbers:
        shown = ", ".join(numbers[:5])
        more = f" and {len(numbers) - 5} more" if len(numbers) > 5 else ""
        parts.append(f"numbers {shown}{more}")
    kinds = selection.get("kinds") or []
    if kinds:
        parts.append(", ".join(BulkKind(kind).label.lower() for kind in kinds if kind in KINDS))
    if selection.get("not_in_qbo"):
        parts.append("not yet in QuickBooks")
    return "; ".join(parts) if parts else "every document"


def duration_text(span: timedelta | None) -> str:
    if span is None:
        return "—"
    if timedelta(0) < span < timedelta(seconds=1):
        return "less than 1 s"
    seconds = max(round(span.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


def _bulk_id(value: str) -> int | None:
    """A bulk sync id from the path, or None (then the page is a 404, never a 422 or 500)."""
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if 1 <= number <= MAX_VERSION else None


def _not_found(request: Request, user: ConsoleUser) -> Response:
    return render(
        request,
        "error.html",
        user,
        {
            "title": "No such bulk sync",
            "message": "Your company has no bulk sync with this number.",
        },
        status_code=404,
    )


def _summary(report: Report, now: datetime) -> dict[str, Any]:
    bulk = report.bulk
    progress = report.progress
    running = bulk.state == State.RUNNING
    # An ended run's rate is over its whole time; its time left is none.
    ended_at = None if running else (bulk.finished_at or bulk.cancelled_at)
    pace = pace_of(progress, started_at=bulk.started_at, now=ended_at or now)
    return {
        "bulk": bulk,
        "state_label": STATE_LABELS.get(bulk.state, bulk.state),
        "state_badge": STATE_BADGES.get(bulk.state, "badge"),
        "selection": selection_text(bulk.selection),
        "planned": [(p.value, PLANNED_LABELS[p.value], report.planned(p)) for p in Planned],
        "kinds": kinds_text(bulk.kinds),
        "estimated": duration_text(report.estimated),
        "calls": report.calls,
        "ceiling": report.ceiling,
        "progress": progress,
        "started": bulk.started_at is not None,
        "rate": "—" if pace.per_minute is None else f"{pace.per_minute:.0f}",
        "eta": duration_text(pace.remaining) if running else None,
        "live": bulk.state in (State.PREVIEWING, State.RUNNING) or progress.in_sync > 0,
        "poll_seconds": POLL_SECONDS if bulk.items <= LARGE else POLL_SECONDS_LARGE,
    }


@router.get("/bulk-syncs")
async def bulk_syncs(request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    rows = await services.bulk_syncs.repository.recent(user.company_id, limit=50)
    now = datetime.now(UTC)
    return render(
        request,
        "bulk_syncs.html",
        user,
        {
            "rows": [_summary(await services.bulk_syncs.report(row), now) for row in rows],
            "may_work": user.may(Ability.WORK),
        },
    )


def _new_page(
    request: Request,
    user: ConsoleUser,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "bulk_sync_new.html",
        user,
        {
            "form": form,
            "errors": errors or {},
            "problem": problem,
            "kinds": [(kind.value, kind.label) for kind in BulkKind],
        },
        status_code=status_code,
    )


@router.get("/bulk-syncs/new")
async def new_bulk_sync(request: Request, user: MayWork) -> Response:
    return _new_page(request, user, {"kinds": [], "not_in_qbo": False})


def _selection_errors(exc: ValidationError) -> dict[str, str]:
    """The API's 422 problems, by the form field they name (one naming none is shown at
    "Invoice date to", beside the range)."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        location = error.get("loc") or ()
        field = str(location[0]) if location else "date_to"
        if field not in FIELDS:
            field = "date_to"
        message = str(error.get("msg", "not valid"))
        errors[field] = f"{errors[field]}; {message}" if field in errors else message
    return errors


@router.post("/bulk-syncs")
async def create_bulk_sync(
    request: Request,
    user: MayWork,
    services: ServicesDep,
    date_from: Annotated[str, Form(max_length=100)] = "",
    date_to: Annotated[str, Form(max_length=100)] = "",
    numbers: Annotated[str, Form(max_length=200_000)] = "",
    kinds: Annotated[list[str] | None, Form()] = None,
    not_in_qbo: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    given_kinds = kinds or []
    errors: dict[str, str] = {}
    for field, value in (
        ("date_from", date_from),
        ("date_to", date_to),
        ("numbers", numbers),
        *(("kinds", kind) for kind in given_kinds),
    ):
        found = text_problem(value)
        if found is not None and field not in errors:
            errors[field] = found[1]
    form = {
        "date_from": _echo(date_from),
        "date_to": _echo(date_to),
        "numbers": _echo(numbers),
        "kinds": [kind for kind in given_kinds if kind in KINDS],
        "not_in_qbo": not_in_qbo == "true",
    }
    raw: dict[str, Any] = {"not_in_qbo": not_in_qbo == "true"}
    if date_from.strip():
        raw["date_from"] = date_from.strip()
    if date_to.strip():
        raw["date_to"] = date_to.strip()
    numbers_given = [n for n in _NUMBER_SEPARATORS.split(numbers) if n]
    if numbers_given:
        raw["numbers"] = numbers_given
    if given_kinds:
        raw["kinds"] = given_kinds
    if not errors:
        try:
            selection = Selection.model_validate(raw)
        except ValidationError as exc:
            errors = _selection_errors(exc)
    if errors:
        return _new_page(request, user, form, errors, status_code=422)
    try:
        bulk = await services.bulk_syncs.create(
            user.company_id, selection, start_when_previewed=False
        )
    except BulkSyncRefused as exc:
        busy = isinstance(exc, TooManyPreviews)
        return _new_page(request, user, form, problem=str(exc), status_code=429 if busy else 409)
    await jobs.defer_bulk_sync(services.job_app, bulk.id)
    await audited(
        services,
        user,
        "bulk_sync.created",
        str(bulk.id),
        {"selection": selection.model_dump(mode="json", exclude_defaults=True)},
    )
    flash(request, f"Bulk sync {bulk.id}: the preview is being prepared; nothing is sent yet.")
    return RedirectResponse(f"/bulk-syncs/{bulk.id}", status_code=303)


async def _page_context(
    services: Services,
    user: ConsoleUser,
    bulk: BulkSyncRow,
    planned: str | None,
    after: int,
) -> dict[str, Any]:
    report = await services.bulk_syncs.report(bulk)
    filter_by = Planned(planned) if planned in PLANNED_LABELS else None
    rows = await services.bulk_syncs.repository.items(
        bulk.id, after=after, limit=PAGE_SIZE + 1, planned=filter_by
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    failed = [
        DocumentKey(user.company_id, DocumentType(row.doc_type), row.source_id)
        for row in rows
        if row.outcome == "failed"
    ]
    records = {
        (key.doc_type.value, key.source_id): record
        for key, record in (await services.ledger.get_many(failed)).items()
    }
    query = {"planned": filter_by.value} if filter_by else {}
    return {
        **_summary(report, datetime.now(UTC)),
        "items": [_item(row, records) for row in rows],
        "chosen": filter_by.value if filter_by else "",
        "next_query": urlencode({**query, "after": rows[-1].seq}) if more and rows else None,
        "first_page": after == 0,
        "panel_query": urlencode({**query, "after": after} if after else query),
        "may_work": user.may(Ability.WORK),
        "planned_labels": PLANNED_LABELS,
        "planned_badges": PLANNED_BADGES,
        "outcome_labels": OUTCOME_LABELS,
        "outcome_badges": OUTCOME_BADGES,
    }


def _item(row: ItemRow, records: dict[tuple[str, str], SyncRecord]) -> dict[str, Any]:
    """One document of the bulk sync as the page lists it; a failed one with the ledger's error
    (its code, message and remedy, as the document page shows them)."""
    record = records.get((row.doc_type, row.source_id)) if row.outcome == "failed" else None
    error = (record.error if record is not None else None) or {}
    return {"row": row, "outcome": row.outcome, "error": error}


async def _bulk_or_none(services: Services, user: ConsoleUser, bulk_id: str) -> BulkSyncRow | None:
    number = _bulk_id(bulk_id)
    if number is None:
        return None
    return await services.bulk_syncs.repository.get(number, company_id=user.company_id)


@router.get("/bulk-syncs/{bulk_id}")
async def bulk_sync_page(
    request: Request,
    bulk_id: str,
    user: CurrentUser,
    services: ServicesDep,
    planned: Annotated[str | None, Query()] = None,
    after: Annotated[str | None, Query()] = None,
) -> Response:
    bulk = await _bulk_or_none(services, user, bulk_id)
    if bulk is None:
        return _not_found(request, user)
    problems = filters.Problems()
    start = filters.whole_number(after, 0, MAX_VERSION, "Page", problems) or 0
    context = await _page_context(services, user, bulk, planned, start)
    return render(
        request,
        "bulk_sync.html",
        user,
        {**context, "problems": problems},
        status_code=422 if problems else 200,
    )


@router.get("/bulk-syncs/{bulk_id}/panel")
async def bulk_sync_panel(
    request: Request,
    bulk_id: str,
    user: CurrentUser,
    services: ServicesDep,
    planned: Annotated[str | None, Query()] = None,
    after: Annotated[str | None, Query()] = None,
) -> Response:
    """The page's summary, progress and documents (an htmx fragment, polled while it is live)."""
    bulk = await _bulk_or_none(services, user, bulk_id)
    if bulk is None:
        return _not_found(request, user)
    start = filters.whole_number(after, 0, MAX_VERSION, "Page", filters.Problems()) or 0
    context = await _page_context(services, user, bulk, planned, start)
    return render(request, "bulk_sync_panel.html", user, context)


AUDITED = {"start": "bulk_sync.started", "cancel": "bulk_sync.cancelled"}


async def _act(
    request: Request,
    services: Services,
    user: ConsoleUser,
    bulk_id: str,
    action: str,
) -> Response:
    number = _bulk_id(bulk_id)
    if number is None:
        return _not_found(request, user)
    try:
        if action == "start":
            await services.bulk_syncs.start(user.company_id, number)
            await jobs.defer_bulk_sync(services.job_app, number)
            message = (
                f"Bulk sync {number} started: its documents go to QuickBooks as the preview said."
            )
        else:
            await services.bulk_syncs.cancel(user.company_id, number)
            message = (
                f"Bulk sync {number} cancelled: no more documents are sent; those already in the "
                "sync finish their own sync."
            )
    except NoSuchBulkSync:
        return _not_found(request, user)
    except BulkSyncRefused as exc:
        flash(request, str(exc), "error")
    else:
        await audited(services, user, AUDITED[action], str(number))
        flash(request, message)
    return RedirectResponse(f"/bulk-syncs/{number}", status_code=303)


@router.post("/bulk-syncs/{bulk_id}/start")
async def start_bulk_sync(
    request: Request, bulk_id: str, user: MayWork, services: ServicesDep
) -> Response:
    """Confirm the preview (only a previewed bulk sync starts)."""
    return await _act(request, services, user, bulk_id, "start")


@router.post("/bulk-syncs/{bulk_id}/cancel")
async def cancel_bulk_sync(
    request: Request, bulk_id: str, user: MayWork, services: ServicesDep
) -> Response:
    return await _act(request, services, user, bulk_id, "cancel")
