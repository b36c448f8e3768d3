"""GET /api/v1/qbo/log: the QuickBooks request log (R16), only with "View QuickBooks logs"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from rentsync.api.auth import require
from rentsync.api.deps import ServicesDep
from rentsync.api.schemas import error_responses
from rentsync.domain.access import Permission, Principal
from rentsync.domain.values import MAX_VERSION, IsoDateTime

router = APIRouter(prefix="/api/v1", tags=["quickbooks log"])

MayViewLogs = Annotated[Principal, require(Permission.VIEW_QBO_LOGS)]


class LogEntryOut(BaseModel):
    id: int
    at: datetime
    method: str
    path: str
    status: int | None
    duration_ms: float
    intuit_tid: str | None
    requestid: str | None
    request_body: str
    response_body: str
    error: str | None


class LogPageOut(BaseModel):
    entries: list[LogEntryOut]
    next_before_id: int | None
    """Pass as `before_id` for the next (older) page; null at the end."""


@router.get("/qbo/log", response_model=LogPageOut, responses=error_responses(403))
async def read_log(
    principal: MayViewLogs,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
    failed: bool = False,
    intuit_tid: Annotated[str | None, Query(max_length=100)] = None,
    requestid: Annotated[str | None, Query(max_length=100)] = None,
    since: IsoDateTime | None = None,
) -> LogPageOut:
    rows = await services.qbo_log.page(
        principal.company_id,
        before_id=before_id,
        limit=limit + 1,
        status=status,
        failed_only=failed,
        intuit_tid=intuit_tid,
        requestid=requestid,
        since=since,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return LogPageOut(
        entries=[
            LogEntryOut(
                **{k: v for k, v in vars(row).items() if k not in ("company_id", "realm_id")}
            )
            for row in rows
        ],
        next_before_id=rows[-1].id if more and rows else None,
    )
