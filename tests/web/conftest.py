"""Browser tests' set-up: Debian's chromium (installed here when missing), Playwright driving
it, and the console served for real: uvicorn on a free port (the app with its worker and the
embedded PostgreSQL of the test) and the QBO emulator served over HTTP on another port, so the
browser goes through Intuit's (the emulator's) consent page and back like a user's would."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from qbo_emulator.app import EmulatorApp
from qbo_emulator.app import create_app as create_emulator
from qbo_emulator.limits import LimitsConfig
from qbo_emulator.presets import Preset
from qbo_emulator.state import Config
from rentsync import bootstrap
from rentsync.api.app import create_app
from rentsync.demo.emulator import free_port
from rentsync.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_COMMAND = "apt-get update && apt-get install -y chromium"


def _apt_install() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "install", "-y", "chromium"], ["apt-get", "update"]):
        subprocess.run(command, env=env, check=False, capture_output=True, timeout=900)
    subprocess.run(["apt-get", "install", "-y", "chromium"], env=env, check=False, timeout=900)


def ensure_chromium() -> str:
    """Debian's chromium (browser builds cannot be downloaded here): installed when missing
    and we may (root with apt-get, as in CI); otherwise the test fails with the command."""
    if not CHROMIUM.exists() and shutil.which("apt-get") and os.geteuid() == 0:
        _apt_install()
    if not CHROMIUM.exists():
        pytest.fail(
            f"The browser tests need Debian's chromium at {CHROMIUM}; install it with: "
            f"{INSTALL_COMMAND}",
            pytrace=False,
        )
    return str(CHROMIUM)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    executable = ensure_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable,
            # Chromium's sandbox needs an unprivileged user; CI runs the tests as root.
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        yield launched
        await launched.close()


@dataclass
class LiveConsole:
    url: str
    emulator_url: str
    emulator: EmulatorApp
    services: bootstrap.Services
    realm_id: str

    async def new_page(self, browser: Any) -> Any:
        context = await browser.new_context(base_url=self.url)
        context.set_default_timeout(15_000)
        return await context.new_page()


@contextlib.asynccontextmanager
async def _serving(app: Any, port: int, *, lifespan: str) -> AsyncIterator[uvicorn.Server]:
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            log_level="warning",
            lifespan=lifespan,
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(600):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        if not server.started:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        yield server
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=40)


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[LiveConsole]:
    emulator = create_emulator(Config(limits=LimitsConfig(enabled=False), auto_approve=False))
    company = emulator.emulator.add_company(Preset(name="Sunny Tents LLC", ast=False))
    emulator.emulator.add_company(Preset(name="Another QuickBooks Co"))
    emulator_port, port = free_port(), free_port()
    console_url = f"http://127.0.0.1:{port}"
    registered = emulator.emulator.oauth.register(
        {"redirect_uris": [f"{console_url}/qbo/callback"]}
    )
    settings = dataclasses.replace(
        settings,
        host="127.0.0.1",
        port=port,
        qbo_environment="emulator",
        qbo_emulator_url=f"http://127.0.0.1:{emulator_port}",
        qbo_client_id=registered.client_id,
        qbo_client_secret=registered.client_secret,
        qbo_requests_per_minute=100_000,
    )
    app = create_app(settings, with_worker=True)
    async with (
        _serving(emulator, emulator_port, lifespan="off"),
        _serving(app, port, lifespan="on"),
    ):
        yield LiveConsole(
            url=console_url,
            emulator_url=settings.qbo_emulator_url,
            emulator=emulator,
            services=app.state.services,
            realm_id=company.realm_id,
        )
