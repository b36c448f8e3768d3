"""GET /health: is the database reachable, and is anyone working the queue?"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from rentsync.api.deps import ServicesDep

router = APIRouter(tags=["health"])


class DatabaseHealth(BaseModel):
    ok: bool
    mode: str
    error: str | None = None


class WorkerHealth(BaseModel):
    in_process: bool
    in_process_running: bool
    live_workers: int
    """Workers of any process whose heartbeat is recent."""


class Health(BaseModel):
    status: str
    database: DatabaseHealth
    worker: WorkerHealth


@router.get("/health", response_model=Health)
async def health(request: Request, response: Response, services: ServicesDep) -> Health:
    in_process_task = getattr(request.app.state, "worker_task", None)
    db = DatabaseHealth(ok=True, mode=services.database.mode)
    live = 0
    try:
        async with services.pool.connection(timeout=5) as conn:
            cursor = await conn.execute(
                "SELECT count(*) FROM procrastinate_workers "
                "WHERE last_heartbeat > now() - make_interval(secs => %s)",
                (services.settings.stalled_after_seconds,),
            )
            row = await cursor.fetchone()
            live = int(row[0]) if row else 0
    except Exception as exc:  # any failure to reach the database is what /health reports
        db = DatabaseHealth(ok=False, mode=services.database.mode, error=type(exc).__name__)
    worker = WorkerHealth(
        in_process=in_process_task is not None,
        in_process_running=in_process_task is not None and not in_process_task.done(),
        live_workers=live,
    )
    healthy = db.ok and (worker.in_process_running or not worker.in_process)
    status = "ok" if healthy and live > 0 else ("degraded" if healthy else "unavailable")
    if not healthy:
        response.status_code = 503
    return Health(status=status, database=db, worker=worker)
