"""The one clock seam: timezone-aware UTC now. Components take a `clock` argument defaulting
to `utcnow`, so tests can pass their own."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
