"""R19/B1: a worker SIGKILLed at any point of a token refresh loses no connection that QBO's
rotation rule lets us keep.

QBO returns the same refresh token value for about a day and only then a new one, refusing the
previous value (`qbo_emulator.choices`). A refresh is held at one point (before it reaches the
emulator, after the emulator answered but before rentsync committed, after the commit), the
refreshing process is killed with SIGKILL, and a second process then refreshes. Only a kill
between a *rotating* answer and the commit loses the connection: that is the window the README
names, and the last case shows it.

The emulator is served over HTTP by uvicorn in this process; the refreshers are real processes
(`tests.qbo.refresh_worker`) sharing the test database.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from qbo_emulator.app import EmulatorApp
from rentsync.settings import Settings
from tests.qbo_fixtures import REDIRECT, Harness, qbo_harness

ROOT = Path(__file__).resolve().parents[2]
TOKEN_PATH = "/oauth2/v1/tokens/bearer"


class HeldRequest:
    """The emulator with one kind of request held until `release` is set; `held` tells the test.

    `before_intuit`: a token request is held before the emulator sees it and then dropped (it
    never reached Intuit). `after_intuit`: the emulator has answered a token request (a rotation
    is done) but the answer is held. `after_commit`: the first API call after the refresh is held,
    so rentsync has committed the new tokens.
    """

    def __init__(self, app: EmulatorApp, where: str) -> None:
        self.app = app
        self.where = where
        self.active = True
        self.held = threading.Event()
        self.release = threading.Event()

    async def _hold(self) -> None:
        self.held.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        wanted = "/preferences" in path if self.where == "after_commit" else path == TOKEN_PATH
        if not (self.active and wanted):
            await self.app(scope, receive, send)
            return
        if self.where == "before_intuit":
            await self._hold()
            return

        async def held_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                await self._hold()
            await send(message)

        await self.app(scope, receive, held_send)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> str:
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def _refresher(h: Harness, settings: Settings, base: str, tmp: Path, name: str) -> Any:
    """A process that, once started, makes one QBO call with an expired access token."""
    (tmp / "go").touch()
    args = {
        "database_url": settings.database_url,
        "data_dir": str(tmp / f"data-{name}"),
        "secret_key": settings.secret_key,
        "emulator_url": base,
        "client_id": h.client_id,
        "client_secret": h.client_secret,
        "redirect_uri": REDIRECT,
        "company_id": h.company_id,
        "concurrency": 1,
        "go_file": str(tmp / "go"),
        "ready_file": str(tmp / f"ready-{name}"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.qbo.refresh_worker", json.dumps(args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _expire_access_token(h: Harness) -> None:
    async with h.services.pool.connection() as conn:
        await conn.execute(
            "UPDATE qbo_connections SET access_expires_at = now() - interval '1 minute'"
        )


async def _wait(event: threading.Event, proc: Any) -> None:
    deadline = time.monotonic() + 60
    while not event.is_set():
        if proc.poll() is not None:
            pytest.fail(f"the refresher exited before the hold: {proc.communicate()}")
        assert time.monotonic() < deadline, "the refresh never reached the hold"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("where", "rotation_due", "survives"),
    [
        # The reported case: Intuit answered, the worker died before committing. Within the day
        # the stored refresh token is the value Intuit returned, so the next refresh works.
        ("after_intuit", False, True),
        # Killed before the request reached Intuit: nothing changed there, even on rotation day.
        ("before_intuit", True, True),
        # Killed after the commit: the rotated value is stored.
        ("after_commit", True, True),
        # The remaining window: Intuit rotated the value in that very answer (once a day) and the
        # worker died before the commit. The new value is gone; the stored one is refused.
        ("after_intuit", True, False),
    ],
    ids=["answered-same-value", "before-intuit", "after-commit", "answered-rotation-window"],
)
async def test_r19_refresh_survives_sigkill(
    settings: Settings, serve: Any, tmp_path: Path, where: str, rotation_due: bool, survives: bool
) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        oauth = h.emulator.emulator.oauth
        if rotation_due:
            # The stored value is a day old: Intuit's next refresh answer rotates it.
            h.clock.offset = timedelta(hours=25)
        endpoint = HeldRequest(h.emulator, where)
        base = serve(endpoint)
        before = await h.services.connections.get(h.company_id)
        assert before is not None and before.tokens is not None
        await _expire_access_token(h)

        killed = _refresher(h, settings, base, tmp_path, "killed")
        await _wait(endpoint.held, killed)
        killed.kill()  # SIGKILL: no cleanup, no rollback from the client side
        killed.communicate(timeout=30)
        endpoint.release.set()
        endpoint.active = False
        rotated = before.tokens.refresh_token not in oauth.refresh

        if where != "after_commit":
            await _expire_access_token(h)
        nxt = _refresher(h, settings, base, tmp_path, "next")
        out, err = nxt.communicate(timeout=60)
        assert nxt.returncode == 0, err
        outcome = json.loads(out.strip().splitlines()[-1])
        status = await h.services.qbo.status(h.company_id)
        after = await h.services.connections.get(h.company_id)
        assert after is not None
        if survives:
            assert outcome["errors"] == [] and outcome["ok"] == 1, outcome
            assert status.state == "connected"
            assert after.tokens is not None and after.tokens.refresh_token in oauth.refresh
            # Killed after the commit, the next process uses the saved access token as it is.
            assert outcome["refreshes"] == (0 if where == "after_commit" else 1)
        else:
            assert outcome["ok"] == 0 and "invalid_grant" in outcome["errors"][0], outcome
            assert status.state == "lost"
            assert status.lost_reason is not None and "invalid_grant" in status.lost_reason
        # Intuit rotated the value exactly when the rule says it does.
        assert rotated == (rotation_due and where != "before_intuit")


async def test_b1_refresh_survives_losing_the_database_after_a_rotating_answer(
    settings: Settings, serve: Any, tmp_path: Path
) -> None:
    """PostgreSQL drops the refresher's connection (restart, failover) after Intuit answered with
    a rotated refresh token and before the commit: the answer is saved on a fresh connection."""
    async with qbo_harness(settings) as h:
        await h.connect()
        oauth = h.emulator.emulator.oauth
        h.clock.offset = timedelta(hours=25)  # the stored value is due to rotate
        endpoint = HeldRequest(h.emulator, "after_intuit")
        base = serve(endpoint)
        before = await h.services.connections.get(h.company_id)
        assert before is not None and before.tokens is not None
        await _expire_access_token(h)

        refresher = _refresher(h, settings, base, tmp_path, "refresher")
        await _wait(endpoint.held, refresher)
        async with h.services.pool.connection() as conn:
            cursor = await conn.execute(
                """SELECT pg_terminate_backend(l.pid) FROM pg_locks l
                   JOIN pg_class c ON c.oid = l.relation
                   WHERE c.relname = 'qbo_connections' AND l.mode = 'RowShareLock'
                     AND l.pid <> pg_backend_pid()"""
            )
            assert [row[0] for row in await cursor.fetchall()] == [True]
        endpoint.release.set()
        endpoint.active = False
        out, err = refresher.communicate(timeout=60)
        assert refresher.returncode == 0, err
        assert before.tokens.refresh_token not in oauth.refresh  # Intuit did rotate it

        after = await h.services.connections.get(h.company_id)
        assert after is not None and after.tokens is not None
        assert after.tokens.refresh_token in oauth.refresh, "the rotated value was not saved"
        await _expire_access_token(h)
        nxt = _refresher(h, settings, base, tmp_path, "next")
        out, err = nxt.communicate(timeout=60)
        assert nxt.returncode == 0, err
        outcome = json.loads(out.strip().splitlines()[-1])
        assert outcome["errors"] == [] and outcome["ok"] == 1, outcome
        status = await h.services.qbo.status(h.company_id)
        assert status.state == "connected"
