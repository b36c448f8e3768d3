"""FastAPI dependencies: how a route gets at the running services."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rentsync.bootstrap import Services


async def get_services(request: Request) -> Services:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a thread hop (and a GIL
    # hand-off) on every API request for an attribute read.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
