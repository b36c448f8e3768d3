"""The dashboard (`/`): connection state, documents by kind and state, outcomes and event ->
QBO latency per hour over the last 7 days (server-rendered SVG charts with a table under
each), queue depth and the newest failures with their remedies. The figures panel reloads
itself every 10 s (htmx polling of `/dashboard/panel`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rentsync.api.deps import ServicesDep
from rentsync.bootstrap import Services
from rentsync.domain.people import ConsoleUser
from rentsync.web import charts, kinds
from rentsync.web.auth import CurrentUser
from rentsync.web.render import render

router = APIRouter(include_in_schema=False)

DAYS = 7
POLL_SECONDS = 10
NEWEST_FAILURES = 5


@dataclass(frozen=True, kw_only=True)
class KindRow:
    doc_type: str
    title: str
    counts: dict[str, int]
    total: int


async def _panel_context(services: Services, user: ConsoleUser) -> dict[str, Any]:
    company_id = user.company_id
    now = datetime.now(UTC)
    hours = charts.hours(now - timedelta(hours=DAYS * 24 - 1), DAYS * 24)
    counts = await services.overview.counts(company_id)
    by_kind: dict[str, dict[str, int]] = {}
    for row in counts:
        by_kind.setdefault(row.doc_type, {})[row.state] = row.count
    rows = [
        KindRow(
            doc_type=doc_type,
            title=title,
            counts=by_kind.get(doc_type, {}),
            total=sum(by_kind.get(doc_type, {}).values()),
        )
        for doc_type, title in kinds.titles().items()
    ]
    figures = {h.hour: h for h in await services.overview.hourly(company_id, since=hours[0])}
    series = [figures.get(hour) for hour in hours]
    labels = [hour.strftime("%a %H:00") for hour in hours]
    outcomes = charts.stacked_bars(
        f"Documents synced, failed and skipped per hour, last {DAYS} days",
        labels,
        [
            charts.Series(
                name="synced", css_class="synced", values=[f.synced if f else 0 for f in series]
            ),
            charts.Series(
                name="failed", css_class="failed", values=[f.failed if f else 0 for f in series]
            ),
            charts.Series(
                name="skipped", css_class="skipped", values=[f.skipped if f else 0 for f in series]
            ),
        ],
    )
    latency = charts.lines(
        f"Time from the rental system's change to QuickBooks, per hour, last {DAYS} days",
        labels,
        [
            charts.Series(
                name="median",
                css_class="p50",
                values=[f.latency_p50_seconds if f else None for f in series],
            ),
            charts.Series(
                name="95th percentile",
                css_class="p95",
                values=[f.latency_p95_seconds if f else None for f in series],
            ),
        ],
        unit=" s",
    )
    return {
        "status": await services.qbo.status(company_id),
        "kind_rows": rows,
        "states": kinds.STATES,
        "outcomes_chart": outcomes,
        "latency_chart": latency,
        "hour_rows": [(hour, figures[hour]) for hour in reversed(hours) if hour in figures],
        "queue": await services.overview.queue_depth(company_id),
        "failures": await services.ledger.search(
            company_id, states=["failed"], limit=NEWEST_FAILURES
        ),
        "titles": kinds.titles(),
        "poll_seconds": POLL_SECONDS,
        "updated_at": now,
    }


@router.get("/")
async def dashboard(request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    company = await services.companies.get(user.company_id)
    context = await _panel_context(services, user)
    return render(request, "dashboard.html", user, {"company": company, **context})


@router.get("/dashboard/panel")
async def panel(request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    """The figures alone, for the page's polling (htmx swaps the panel in place)."""
    return render(request, "dashboard_panel.html", user, await _panel_context(services, user))
