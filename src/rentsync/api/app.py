"""The FastAPI app factory. Building the app does no I/O; the lifespan starts the services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

import rentsync
from rentsync import bootstrap
from rentsync.api import companies, diagnostics, documents, health, sync_messages
from rentsync.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, with_worker: bool = True) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap.running_services(settings) as services:
            app.state.services = services
            worker_task: asyncio.Task[None] | None = None
            if with_worker:
                worker_task = asyncio.create_task(
                    bootstrap.run_worker(
                        services, concurrency=settings.worker_concurrency, in_process=True
                    ),
                    name="rentsync in-process worker",
                )
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
    )
    app.include_router(health.router)
    app.include_router(diagnostics.router)
    app.include_router(companies.router)
    app.include_router(documents.build_router())
    app.include_router(sync_messages.router)
    return app
