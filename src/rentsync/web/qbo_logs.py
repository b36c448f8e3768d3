"""QuickBooks logs: every request rentsync sent to QuickBooks, with QuickBooks' answer, bodies
already stripped of secrets when stored (`qbo.redact`). Only for users with "View QuickBooks
logs" (the link is absent and the page 403 for others); the same log the API serves."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from rentsync.api.deps import ServicesDep
from rentsync.domain.people import Ability, ConsoleUser
from rentsync.web import filters
from rentsync.web.auth import requires
from rentsync.web.render import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MayViewLogs = Annotated[ConsoleUser, requires(Ability.VIEW_QBO_LOGS)]
_ENTITY = re.compile(r"^[A-Za-z]{1,40}$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
OUTCOMES = (("", "Any answer"), ("ok", "Succeeded"), ("failed", "Failed"))


def fault_of(body: str) -> str | None:
    """QuickBooks' first fault in an answer (`code: message`), for the entry's headline."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    fault = answer.get("Fault") if isinstance(answer, dict) else None
    errors = fault.get("Error") if isinstance(fault, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    first = errors[0]
    return f"{first.get('code', '')}: {first.get('Message', '')}".strip(": ")


@router.get("/quickbooks/logs")
async def logs(
    request: Request,
    user: MayViewLogs,
    services: ServicesDep,
    entity: Annotated[str | None, Query(max_length=40)] = None,
    outcome: Annotated[str | None, Query(max_length=10)] = None,
    status: Annotated[str | None, Query(max_length=3)] = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    tid: Annotated[str | None, Query(max_length=100)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    problems = filters.Problems()
    since = filters.day(date_from, "From", problems)
    until = filters.day(date_to, "To", problems)
    status_code = filters.whole_number(status, 100, 599, "HTTP status", problems)
    entity_name = filters.matching(entity, _ENTITY, "QuickBooks entity", problems)
    fault_code = filters.matching(code, _CODE, "QuickBooks error code", problems)
    rows = (
        []
        if problems
        else await services.qbo_log.page(
            user.company_id,
            before_id=before,
            limit=PAGE_SIZE + 1,
            status=status_code,
            failed_only=outcome == "failed",
            succeeded_only=outcome == "ok",
            intuit_tid=tid or None,
            since=datetime.combine(since, time.min, UTC) if since else None,
            until=datetime.combine(until, time.min, UTC) + timedelta(days=1) if until else None,
            entity=entity_name,
            code=fault_code,
        )
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    params = {
        k: v
        for k, v in {
            "entity": entity,
            "outcome": outcome,
            "status": status,
            "code": code,
            "from": date_from,
            "to": date_to,
            "tid": tid,
        }.items()
        if v
    }
    return render(
        request,
        "qbo_logs.html",
        user,
        {
            "rows": [(row, fault_of(row.response_body)) for row in rows],
            "chosen": {k: str(v) for k, v in params.items()},
            "outcomes": OUTCOMES,
            "next_params": {**params, "before": rows[-1].id} if more and rows else None,
            "problems": problems,
        },
        status_code=422 if problems else 200,
    )
