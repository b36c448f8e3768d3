"""Shutdown leaves the embedded PostgreSQL cleanly (issue 13: a traceback at shutdown seen once
at load 8-10, `TypeError: argument must be an int, or have a fileno() method` from the embedded
server's lock): the process's check that the embedded server runs (every 2 s, in a thread) was
cancelled at shutdown without waiting for its thread, so that check could still hold the
server's lock (not thread-safe) when the shutdown took it to stop the server. The check now
finishes before the server is released. Here a slow check is in flight at shutdown, and the
release must not overlap it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import pytest

from rentsync import bootstrap
from rentsync.settings import Settings
from rentsync.store import database


async def test_i13_shutdown_waits_for_the_embedded_server_check_before_releasing_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    checking = threading.Event()
    overlaps: list[str] = []
    checks = 0

    def slow_check() -> None:
        nonlocal checks
        checks += 1
        checking.set()
        time.sleep(0.5)  # a check under load: pg_ctl status, the lock, the holders' file
        checking.clear()

    @contextlib.contextmanager
    def embedded(settings: Settings) -> Iterator[database.Database]:
        assert settings.database_url is not None
        try:
            yield database.Database(url=settings.database_url, mode="embedded", restart=slow_check)
        finally:
            # What releasing the embedded server does: it takes the server's lock.
            if checking.is_set():
                overlaps.append("released while a check was running")

    monkeypatch.setattr(database, "open_database", embedded)
    monkeypatch.setattr(bootstrap, "EMBEDDED_CHECK_SECONDS", 0.01)
    async with bootstrap.running_services(settings, with_worker=False) as services:
        assert services.database.mode == "embedded"
        deadline = time.monotonic() + 30
        while not checking.is_set():
            assert time.monotonic() < deadline, "the embedded server was never checked"
            await asyncio.sleep(0.01)
    assert checks >= 1
    assert overlaps == []
    assert not checking.is_set()
