"""`qbo-emulator` as a separate process, and its admin API over HTTP.

rentsync never imports `qbo_emulator` (it stands for a system we do not own): the demo starts
its console script next to the running Python, waits until it answers, and stops it with
SIGTERM (then SIGKILL if it does not exit in time). The emulator runs in its own session so a
Ctrl-C in the terminal reaches rentsync only, which then stops the emulator itself. If rentsync
dies without stopping it (SIGKILL), the kernel sends the emulator SIGTERM (Linux's
PR_SET_PDEATHSIG), so no emulator outlives its demo.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rentsync.qbo import http

STOP_TIMEOUT_SECONDS = 10.0


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why and what to do."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    """As uvicorn binds (SO_REUSEADDR): a port with only closing connections is free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive SIGTERM when this process dies, however it
    dies (Linux only; elsewhere None). Prepared before the fork: the child only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm


def emulator_executable() -> Path:
    return Path(sys.executable).with_name("qbo-emulator")


@dataclass(frozen=True, kw_only=True)
class EmulatorCompany:
    realm_id: str
    name: str
    accounts: dict[str, str]
    """Account Ids by role, as the admin API returns them (income, cogs, inventory, ...)."""


class EmulatorProcess:
    """One `qbo-emulator serve` process on 127.0.0.1; `stop()` is safe to call twice."""

    def __init__(self, *, port: int, log_path: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        executable = emulator_executable()
        if not executable.exists():
            raise DemoError(
                f"{executable} is missing; install rentsync with its emulator (`make install`)."
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        command = [str(executable), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        # A fixed argument list built from our own interpreter's directory: nothing untrusted.
        self._process = subprocess.Popen(  # noqa: S603
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # A prctl call between fork and exec; started before rentsync opens its threads.
            preexec_fn=die_with_parent(),
        )
        atexit.register(self.stop)

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; returns the exit code (None if never started)."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
        if self._log is not None:
            self._log.close()
            self._log = None
        atexit.unregister(self.stop)
        return process.returncode

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_ready(self, admin: http.AsyncClient, *, within: float = 20.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            if not self.running():
                raise DemoError(
                    f"the QuickBooks emulator exited at start (see {self.log_path}):\n"
                    f"{self.log_tail()}"
                )
            with contextlib.suppress(Exception):
                answer = await admin.get("/admin/apps", timeout=2.0)
                if answer.status_code == 200:
                    return
            if loop.time() > deadline:
                raise DemoError(
                    f"the QuickBooks emulator did not answer on {self.url} within "
                    f"{within:.0f} s (see {self.log_path})"
                )
            await asyncio.sleep(0.1)


def _json(response: http.Response, what: str) -> Any:
    if response.status_code not in (200, 201):
        raise DemoError(
            f"{what}: the emulator answered {response.status_code}: {response.text[:300]}"
        )
    return response.json()


async def register_app(admin: http.AsyncClient, redirect_uri: str) -> tuple[str, str]:
    """An OAuth app on the emulator (Intuit's developer portal); (client id, client secret)."""
    app = _json(
        await admin.post("/admin/apps", json={"redirect_uris": [redirect_uri]}), "register app"
    )
    return str(app["client_id"]), str(app["client_secret"])


async def create_company(admin: http.AsyncClient, *, name: str, ast: bool) -> EmulatorCompany:
    """A QuickBooks Online Plus company (with automated sales tax when `ast`)."""
    created = _json(
        await admin.post("/admin/companies", json={"plan": "plus", "ast": ast, "name": name}),
        "create company",
    )
    return EmulatorCompany(
        realm_id=str(created["realmId"]),
        name=name,
        accounts={str(k): str(v) for k, v in created["accounts"].items()},
    )


async def set_ast_preference(admin: http.AsyncClient, realm_id: str, *, enabled: bool) -> None:
    """What a bookkeeper's switch of Settings > Sales tax > automated sales tax shows in
    `Preferences.TaxPrefs.PartnerTaxEnabled`."""
    _json(
        await admin.patch(
            f"/admin/companies/{realm_id}/preferences",
            json={"TaxPrefs": {"PartnerTaxEnabled": enabled}},
        ),
        "set the AST preference",
    )
