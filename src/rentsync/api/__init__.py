"""The HTTP API: FastAPI routers and the app factory."""

from __future__ import annotations
