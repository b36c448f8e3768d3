"""GET /health: is the database reachable, and is anyone working the queue?"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from rentsync.api.deps import ServicesDep
from rentsync.domain.qbo import RECONNECT_WARNING
from rentsync.jobs import WorkerRunner, WorkerState
from rentsync.lane_process import BulkLaneProcess

router = APIRouter(tags=["health"])


class DatabaseHealth(BaseModel):
    ok: bool
    mode: str
    error: str | None = None


class BulkLaneHealth(BaseModel):
    running: bool
    """The in-process worker's bulk lane process (`--lanes split`) is running. While it is not
    (it ended and waits to be started again), bulk syncs pause; real-time sync goes on."""
    restarts: int = 0
    """Times it was started again after it ended on its own."""


class WorkerHealth(BaseModel):
    in_process: bool
    in_process_running: bool
    """The in-process worker is registered, working and its heartbeat is recent."""
    in_process_state: str | None = None
    """starting, running, stopping, reconnecting (the database went away) or stopped."""
    in_process_restarts: int = 0
    """Times the in-process worker started again after the database went away."""
    bulk_lane_process: BulkLaneHealth | None = None
    """Only with `--lanes split` (the default of `rentsync serve`)."""
    live_workers: int
    """Workers of any process whose heartbeat is recent (newer than
    RENTSYNC_STALLED_AFTER_SECONDS, after which their jobs are handed to another worker). Each
    worker process runs two, its real-time lane and its bulk lane."""


class QuickBooksHealth(BaseModel):
    reconnect_soon: int = 0
    """Connected companies within 30 days of their refresh token's hard expiry: each must
    reconnect QuickBooks before it (GET /api/v1/qbo/connection says by when)."""
    past_hard_expiry: int = 0
    """Companies still marked connected although their hard expiry has passed (lost)."""


class Health(BaseModel):
    status: str
    database: DatabaseHealth
    worker: WorkerHealth
    quickbooks: QuickBooksHealth = QuickBooksHealth()


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database or the worker is down."}},
)
async def health(request: Request, response: Response, services: ServicesDep) -> Health:
    runner: WorkerRunner | None = getattr(request.app.state, "worker", None)
    bulk_lane: BulkLaneProcess | None = getattr(request.app.state, "bulk_lane", None)
    task = getattr(request.app.state, "worker_task", None)
    db = DatabaseHealth(ok=True, mode=services.database.mode)
    live: set[int] = set()
    quickbooks = QuickBooksHealth()
    try:
        async with services.pool.connection(timeout=5) as conn:
            cursor = await conn.execute(
                "SELECT id FROM procrastinate_workers "
                "WHERE last_heartbeat > now() - make_interval(secs => %s)",
                (services.settings.stalled_after_seconds,),
            )
            live = {int(row[0]) for row in await cursor.fetchall()}
            cursor = await conn.execute(
                "SELECT count(*) FILTER (WHERE refresh_hard_expires_at > now()), "
                "count(*) FILTER (WHERE refresh_hard_expires_at <= now()) FROM qbo_connections "
                "WHERE status = 'connected' AND refresh_hard_expires_at < now() + %s",
                (RECONNECT_WARNING,),
            )
            soon, past = await cursor.fetchone() or (0, 0)
            quickbooks = QuickBooksHealth(reconnect_soon=soon, past_hard_expiry=past)
    except Exception as exc:  # any failure to reach the database is what /health reports
        db = DatabaseHealth(ok=False, mode=services.database.mode, error=type(exc).__name__)
    in_process_running = (
        runner is not None
        and task is not None
        and not task.done()
        and runner.state is WorkerState.RUNNING
        and all(worker_id in live for worker_id in runner.worker_ids)
    )
    worker = WorkerHealth(
        in_process=runner is not None,
        in_process_running=in_process_running,
        in_process_state=runner.state.value if runner is not None else None,
        in_process_restarts=runner.restarts if runner is not None else 0,
        bulk_lane_process=(
            None
            if bulk_lane is None
            else BulkLaneHealth(running=bulk_lane.pid is not None, restarts=bulk_lane.restarts)
        ),
        live_workers=len(live),
    )
    healthy = db.ok and (worker.in_process_running or not worker.in_process)
    # Real-time sync works without the bulk lane: degraded, not unavailable.
    complete = bool(live) and (bulk_lane is None or bulk_lane.pid is not None)
    status = "ok" if healthy and complete else ("degraded" if healthy else "unavailable")
    if not healthy:
        response.status_code = 503
    return Health(status=status, database=db, worker=worker, quickbooks=quickbooks)
