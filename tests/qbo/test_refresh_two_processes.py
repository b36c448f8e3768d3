"""S2: 20 concurrent refreshers in 2 processes after a forced expiry -> 0 invalid_grant.

The emulator is served over real HTTP (uvicorn on 127.0.0.1, a free port); both processes use
the same test database, so only the row lock keeps them from refreshing twice with a refresh
token that rotates (the stored value is a day old, so Intuit's next answer rotates it).
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
from tests.qbo_fixtures import REDIRECT, qbo_harness

ROOT = Path(__file__).resolve().parents[2]
TOKEN_PATH = "/oauth2/v1/tokens/bearer"


class SlowTokenEndpoint:
    """The emulator with a slow token endpoint (Intuit's takes ~0.3 s), so the two processes'
    refresh attempts surely overlap unless something serialises them."""

    def __init__(self, app: EmulatorApp, delay: float = 0.3) -> None:
        self.app = app
        self.delay = delay

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == TOKEN_PATH:
            await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def serve() -> Iterator[object]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> str:
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
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


async def test_two_processes_twenty_refreshers_no_invalid_grant(
    settings: Settings, serve: object, tmp_path: Path
) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        h.clock.offset = timedelta(hours=25)
        base = serve(SlowTokenEndpoint(h.emulator))  # type: ignore[operator]
        before = await h.services.connections.get(h.company_id)
        assert before is not None and before.tokens is not None

        go = tmp_path / "go"
        procs = []
        for index in range(2):
            args = {
                "database_url": settings.database_url,
                "data_dir": str(tmp_path / f"data{index}"),
                "secret_key": settings.secret_key,
                "emulator_url": base,
                "client_id": h.client_id,
                "client_secret": h.client_secret,
                "redirect_uri": REDIRECT,
                "company_id": h.company_id,
                "concurrency": 10,
                "go_file": str(go),
                "ready_file": str(tmp_path / f"ready{index}"),
            }
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.qbo.refresh_worker", json.dumps(args)],
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
            assert time.monotonic() < deadline, "workers did not start"
            assert all(p.poll() is None for p in procs), procs[0].communicate()
            time.sleep(0.02)
        # Forced expiry, then both processes start together.
        async with h.services.pool.connection() as conn:
            await conn.execute(
                "UPDATE qbo_connections SET access_expires_at = now() - interval '1 minute'"
            )
        go.touch()
        outcomes = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            outcomes.append(json.loads(out.strip().splitlines()[-1]))

        assert [o["errors"] for o in outcomes] == [[], []]
        assert sum(o["ok"] for o in outcomes) == 20
        assert sum(o["refreshes"] for o in outcomes) == 1
        after = await h.services.connections.get(h.company_id)
        assert after is not None and after.tokens is not None
        assert after.tokens.refresh_token != before.tokens.refresh_token
        assert after.tokens.refresh_token in h.emulator.emulator.oauth.refresh
        status = await h.services.qbo.status(h.company_id)
        assert status.state == "connected"
