"""Issue 12: `rentsync user create | list | set-password` as a user meets them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg

RENTSYNC = str(Path(sys.executable).with_name("rentsync"))


def test_i12_user_commands(database_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "RENTSYNC_DATA_DIR": str(tmp_path),
        "RENTSYNC_SECRET_KEY": "test-secret-key-not-for-production-0123456789",
    }

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [RENTSYNC, *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    created = run("company", "create", "Tent Co")
    assert created.returncode == 0, created.stderr
    company = re.search(r"Created company (\d+)", created.stdout)
    assert company is not None
    cid = company.group(1)
    password = "a long enough password\n"
    made = run(
        "user",
        "create",
        cid,
        "Owner@Tent.example",
        "--name",
        "Olive Owner",
        "--role",
        "owner",
        "--view-qbo-logs",
        "--password-stdin",
        stdin=password,
    )
    assert made.returncode == 0, made.stderr
    assert f"(owner@tent.example, owner) of company {cid}" in made.stdout
    listed = run("user", "list", cid)
    assert "owner@tent.example\tOlive Owner\towner\tyes\tyes" in listed.stdout
    again = run(
        "user",
        "create",
        cid,
        "owner@tent.example",
        "--name",
        "X",
        "--password-stdin",
        stdin=password,
    )
    assert again.returncode == 1 and "email: owner@tent.example is already a user" in again.stderr
    short = run(
        "user", "create", cid, "v@tent.example", "--name", "V", "--password-stdin", stdin="short\n"
    )
    assert short.returncode == 1 and "password: use at least 12 characters" in short.stderr
    nowhere = run(
        "user", "create", "999", "v@tent.example", "--name", "V", "--password-stdin", stdin=password
    )
    assert nowhere.returncode == 1 and "No company 999" in nowhere.stderr
    user_id = listed.stdout.splitlines()[1].split("\t")[0]
    with psycopg.connect(database_url) as conn:
        before = conn.execute("SELECT password_hash, session_version FROM console_users").fetchone()
    reset = run(
        "user", "set-password", cid, user_id, "--password-stdin", stdin="another long one!\n"
    )
    assert reset.returncode == 0, reset.stderr
    with psycopg.connect(database_url) as conn:
        after = conn.execute("SELECT password_hash, session_version FROM console_users").fetchone()
        audit = [r[0] for r in conn.execute("SELECT action FROM console_audit ORDER BY id")]
    assert before is not None and after is not None
    assert after[0] != before[0] and after[0].startswith("$argon2id$")
    assert after[1] == before[1] + 1  # every session of the user ends
    assert audit == ["user.created", "user.password_set"]
    assert "Traceback" not in again.stderr + short.stderr + nowhere.stderr
