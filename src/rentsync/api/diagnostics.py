"""A diagnostic ping through the whole pipeline: API -> database -> worker -> database -> API.

An operator's tool: it needs an API key with the `run_diagnostics` permission, a ping holds its
job for at most a few seconds, and pings run one at a time behind sync jobs (see
`jobs.diagnostic_ping`), so no number of them can keep a company's sync waiting."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel

from rentsync import jobs
from rentsync.api.auth import require
from rentsync.api.deps import ServicesDep
from rentsync.api.schemas import error_responses
from rentsync.domain.access import Permission

MAX_HOLD_SECONDS = 5

router = APIRouter(
    prefix="/api/v1/diagnostics",
    tags=["diagnostics"],
    dependencies=[require(Permission.RUN_DIAGNOSTICS)],
    responses=error_responses(403),
)


class PingOut(BaseModel):
    id: int
    state: str
    """"queued" until a worker has run the job, then "done"."""
    requested_at: datetime
    completed_at: datetime | None
    worker_name: str | None


@router.post("/pings", status_code=status.HTTP_202_ACCEPTED, response_model=PingOut)
async def request_ping(
    services: ServicesDep,
    response: Response,
    hold_seconds: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_HOLD_SECONDS,
            description="Keep the job running this long (seconds) before it completes.",
        ),
    ] = 0,
) -> PingOut:
    """Queue a job that a worker completes: proves the API, database and workers work together."""
    ping_id = await services.diagnostics.request(
        task_name=jobs.diagnostic_ping.name,
        queue=jobs.DIAGNOSTICS_QUEUE,
        lock=jobs.DIAGNOSTICS_LOCK,
        priority=jobs.DIAGNOSTICS_PRIORITY,
        hold_seconds=hold_seconds,
    )
    response.headers["Location"] = f"/api/v1/diagnostics/pings/{ping_id}"
    return await read_ping(ping_id, services)


@router.get("/pings/{ping_id}", response_model=PingOut, responses=error_responses(404))
async def read_ping(ping_id: int, services: ServicesDep) -> PingOut:
    ping = await services.diagnostics.get(ping_id)
    if ping is None:
        raise HTTPException(status_code=404, detail=f"no ping {ping_id}")
    return PingOut(
        id=ping.id,
        state=ping.state,
        requested_at=ping.requested_at,
        completed_at=ping.completed_at,
        worker_name=ping.worker_name,
    )
