"""The command line as a user meets it: help, configuration errors, a shared embedded server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from rentsync.settings import SettingsError, load_settings

RENTSYNC = str(Path(sys.executable).with_name("rentsync"))


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RENTSYNC, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    "command", [[], ["serve"], ["worker"], ["migrate"], ["demo"], ["company", "create"]]
)
def test_every_command_explains_itself(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert len(result.stdout.splitlines()) > 5


def test_serve_help_lists_its_flags() -> None:
    out = run("serve", "--help").stdout
    for flag in ("--host", "--port", "--no-worker"):
        assert flag in out


def test_a_malformed_setting_is_a_clear_cli_error() -> None:
    result = run("migrate", env={"RENTSYNC_PORT": "eighty"})
    assert result.returncode == 2
    assert "RENTSYNC_PORT must be a whole number" in result.stderr


def test_an_unreachable_database_is_a_clear_cli_error() -> None:
    result = run("migrate", env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_are_read_once_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "RENTSYNC_DATA_DIR": str(tmp_path),
            "RENTSYNC_PORT": "9001",
            "DATABASE_URL": "postgresql://x@h/d",
        }
    )
    assert settings.data_dir == tmp_path
    assert settings.port == 9001
    assert settings.database_url == "postgresql://x@h/d"
    assert not settings.uses_embedded_database
    assert settings.with_overrides(port=None, host="0.0.0.0").port == 9001
    with pytest.raises(SettingsError, match="RENTSYNC_WORKER_CONCURRENCY must be positive"):
        load_settings({"RENTSYNC_WORKER_CONCURRENCY": "0"})


def _embedded_postmasters(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if cmdline and cmdline[0].endswith("/postgres") and str(data_dir) in " ".join(cmdline):
            found.append(process)
    return found


def test_two_processes_starting_at_once_share_one_embedded_server(tmp_path: Path) -> None:
    data_dir = Path("/tmp") / f"rentsync-cli-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, "RENTSYNC_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    try:
        first, second = (
            subprocess.Popen(
                [RENTSYNC, "migrate"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        )
        outputs = [p.communicate(timeout=120) for p in (first, second)]
        assert first.returncode == 0, outputs[0][1]
        assert second.returncode == 0, outputs[1][1]
        assert all("Schema up to date on embedded PostgreSQL" in out for out, _ in outputs)
        # The last process to leave stops the server.
        deadline = time.monotonic() + 10
        while _embedded_postmasters(data_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _embedded_postmasters(data_dir) == []
    finally:
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)


def test_access_logs_never_show_the_oauth_code_or_state() -> None:
    import logging

    from rentsync.logs import KeyValueFormatter, RedactSecrets

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:5000",
            "GET",
            "/qbo/callback?code=AB-secret-1&state=st.xyz&realmId=42",
            "1.1",
            200,
        ),
        None,
    )
    assert RedactSecrets().filter(record)
    line = KeyValueFormatter("%(message)s").format(record)
    assert "AB-secret-1" not in line and "st.xyz" not in line
    assert "code=[redacted]" in line and "realmId=42" in line
