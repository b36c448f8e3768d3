"""The FastAPI app factory. Building the app does no I/O; the lifespan starts the services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

import rentsync
from rentsync import bootstrap, jobs, web
from rentsync.api import (
    api_keys,
    bulk_syncs,
    companies,
    console_links,
    diagnostics,
    docs,
    documents,
    health,
    qbo_log,
    request_guard,
    sync_messages,
    sync_settings,
)
from rentsync.api import connection as qbo_connection
from rentsync.qbo import errors
from rentsync.settings import Settings

if TYPE_CHECKING:
    from rentsync.qbo.client import ClientSettings
    from rentsync.qbo.http import Transport

log = logging.getLogger(__name__)


async def _qbo_error(request: Request, exc: Exception) -> JSONResponse:
    """A QuickBooks failure during an API call (settings check, tax-rate pull, chart of
    accounts): QBO's code, the plain message and what to do, never a bare 500."""
    assert isinstance(exc, errors.QboError)
    status = 409 if isinstance(exc, errors.NotConnected | errors.AuthRevoked) else 502
    return JSONResponse(
        status_code=status,
        content={
            "detail": f"QuickBooks: {exc.message or type(exc).__name__}",
            "code": exc.code or type(exc).__name__,
            "remedy": exc.remedy,
            "intuit_tid": exc.intuit_tid,
        },
    )


_VALIDATION = "HTTPValidationError"


def _json_ref(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def _declare_common_errors(app: FastAPI) -> None:
    """The OpenAPI document declares what every route can answer: 422 (the request guard
    checks every request) and, where a key is required, 401."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path_item in schema["paths"].values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                responses.setdefault(
                    "422",
                    {
                        "description": "Validation Error",
                        "content": _json_ref("HTTPValidationError"),
                    },
                )
                if "requestBody" in operation:
                    responses.setdefault(
                        "413",
                        {
                            "description": "The body is larger than the server accepts "
                            "(RENTSYNC_MAX_REQUEST_BYTES).",
                            "content": _json_ref("ErrorOut"),
                        },
                    )
                if operation.get("security"):
                    responses.setdefault(
                        "401",
                        {
                            "description": "No API key, or an unknown, revoked or expired one.",
                            "content": _json_ref("ErrorOut"),
                        },
                    )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _report_worker_end(task: asyncio.Task[None]) -> None:
    """The in-process worker ends only when the app stops; anything else is a fault of ours
    (/health then answers 503)."""
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "the in-process worker ended",
            exc_info=task.exception(),
            extra={"action": "jobs.worker.ended"},
        )


def create_app(
    settings: Settings,
    *,
    with_worker: bool = True,
    lanes: jobs.Lanes = jobs.Lanes.BOTH,
    qbo_transport: Transport | None = None,
    qbo_client_settings: ClientSettings | None = None,
) -> FastAPI:
    """`lanes`: those of the in-process worker (`Lanes.SPLIT`: its bulk lane in a child process,
    as `rentsync serve` runs it). `qbo_transport`/`qbo_client_settings`: see
    `bootstrap.running_services` (tests)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap.running_services(
            settings,
            qbo_transport=qbo_transport,
            qbo_client_settings=qbo_client_settings,
            with_worker=with_worker,
            lanes=lanes,
        ) as services:
            app.state.services = services
            worker_task: asyncio.Task[None] | None = None
            runner = None
            bulk_lane = None
            if with_worker:
                # Starts the worker again after the database went away (see jobs.WorkerRunner).
                runner = bootstrap.worker_runner(
                    services, concurrency=settings.worker_concurrency, lanes=lanes
                )
                if lanes is jobs.Lanes.SPLIT:
                    bulk_lane = bootstrap.bulk_lane_process(services)
                worker_task = asyncio.create_task(
                    bootstrap.run_lanes(
                        services, runner, lanes=lanes, handle_signals=False, bulk=bulk_lane
                    ),
                    name="rentsync in-process worker",
                )
                worker_task.add_done_callback(_report_worker_end)
            app.state.worker = runner
            app.state.bulk_lane = bulk_lane
            app.state.worker_task = worker_task
            try:
                yield
            finally:
                if worker_task is not None:
                    # procrastinate turns cancellation into a graceful stop: running jobs finish.
                    worker_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker_task

    app = FastAPI(
        title="rentsync",
        version=rentsync.__version__,
        summary="Keeps QuickBooks Online in step with a rental system.",
        lifespan=lifespan,
        docs_url=None,  # served from the package below, not from a CDN
        redoc_url=None,
    )
    docs.add_offline_docs(app)
    app.add_middleware(request_guard.RequestGuard, max_body_bytes=settings.max_request_bytes)
    app.add_exception_handler(RequestValidationError, request_guard.validation_error)
    app.add_exception_handler(errors.QboError, _qbo_error)
    app.include_router(health.router)
    app.include_router(diagnostics.router)
    app.include_router(companies.router)
    app.include_router(api_keys.router)
    app.include_router(documents.build_router())
    app.include_router(sync_messages.router)
    app.include_router(bulk_syncs.router)
    app.include_router(sync_settings.router)
    app.include_router(qbo_connection.router)
    app.include_router(qbo_log.router)
    app.include_router(console_links.router)
    web.install(app, settings)
    _declare_common_errors(app)
    return app
