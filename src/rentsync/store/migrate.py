"""Bring a database to the current schema: rentsync's migrations (yoyo) and procrastinate's.

Runs at every start; safe to run from several processes at once (both steps hold a PostgreSQL
advisory lock, which a killed process cannot leave behind).
An older database is upgraded in place; a newer one (created by a later rentsync) is refused.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "rentsync.store"
PROCRASTINATE_VERSION_KEY = "procrastinate_schema_version"
# Any constant works; it only has to be the same in every rentsync process.
_PROCRASTINATE_SCHEMA_LOCK = 0x52534E43
_OWN_MIGRATIONS_LOCK = 0x52534E44
_MIGRATION_FILE = re.compile(r"^(\d{2}\.\d{2}\.\d{2})_\d{2}_.+\.sql$")


def migrations_dir() -> Path:
    return Path(str(resources.files(MIGRATIONS_PACKAGE) / "migrations"))


def declared_schema() -> str:
    return (resources.files(MIGRATIONS_PACKAGE) / "schema.sql").read_text()


def _yoyo_url(url: str) -> str:
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    raise ValueError(f"not a PostgreSQL URL: {url.split('@')[-1]}")


def apply_own_migrations(url: str, *, upto: str | None = None) -> list[str]:
    """Apply rentsync's pending migrations (all, or those up to and including `upto`)."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(_yoyo_url(url))
    try:
        migrations = read_migrations(str(migrations_dir()))
        with _session_lock(url, _OWN_MIGRATIONS_LOCK):
            # yoyo's own lock (also taken by its internal schema upgrade) would add its row
            # lock; under ours it has nothing to add, and marked held it takes none.
            backend._is_locked = True
            pending = backend.to_apply(migrations)
            if upto is not None:
                pending = pending.filter(lambda m: m.id <= upto)
            backend.apply_migrations(pending)
        return [m.id for m in pending]
    finally:
        backend.connection.close()


@contextlib.contextmanager
def _session_lock(url: str, key: int) -> Iterator[None]:
    """Holds a PostgreSQL session advisory lock on a connection of its own. Not yoyo's lock: that
    is a row in `yoyo_lock`, which a process killed while holding it leaves behind, and every
    later start then waits 10 s and fails (LockTimeout) until someone runs `yoyo break-lock`.
    PostgreSQL drops a session's advisory locks when the session ends, however it ends."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def procrastinate_migrations_after(version: str, available: list[str]) -> list[str]:
    """The procrastinate migration files newer than `version`, in the order to apply them."""
    newer = []
    for name in available:
        match = _MIGRATION_FILE.match(name)
        if match and match.group(1) > version:
            newer.append(name)
    return sorted(newer)


def _procrastinate_files() -> tuple[Path, list[str]]:
    import procrastinate.sql

    folder = Path(str(resources.files(procrastinate.sql) / "migrations"))
    return folder, sorted(p.name for p in folder.iterdir() if p.suffix == ".sql")


def installed_procrastinate_schema_version() -> str:
    """The schema version of the installed procrastinate: its newest migration's prefix."""
    _, files = _procrastinate_files()
    versions = [m.group(1) for f in files if (m := _MIGRATION_FILE.match(f))]
    return max(versions)


# procrastinate's fetch asks, for each candidate job, whether an open job holds the same lock
# (`other_jobs.lock = jobs.lock AND status in todo/doing`). Its only index with `lock` in it
# leads with `id` (procrastinate_jobs_id_lock_idx_v1), so PostgreSQL 18 runs that probe as a
# skip scan over every open job's entry, dead ones included until a vacuum. With 500 jobs queued
# in bench_sync it was the largest part of the server's CPU (a fetch read about 670 buffers; the
# rest of a document's statements together about 1,300). Every sync job has a lock (its
# document's), so an index on open jobs' `lock` makes the probe one lookup.
#
# That index could also serve the fetch's outer scan ("every open job, then sort by priority"),
# and with the usual statistics (finished jobs are kept, so the table looks as if it had no open
# job) the planner took it: 6.7 s a fetch with 100,000 finished and 5,000 queued jobs, against
# 0.7 ms without the index. So the fetch function plans with sorting off: the only order it can
# then use is the queue's own priority index, and it stops at the first job it can take, as it
# does without our index. (An index on `lock` over every row avoids that plan too, but the
# planner then never takes it for the probe.) Both are ours, not procrastinate's: applied after
# its schema or migrations, under the same lock, and only when missing (CREATE INDEX locks the
# table against writes even when the index exists; an upgrade that replaces the function drops
# its setting, and the next start sets it again). procrastinate's issue 1242 tracks the fetch's
# cost upstream.
_QUEUE_LOCK_INDEX = "rentsync_procrastinate_jobs_open_lock"
_FETCH_FUNCTION = "procrastinate_fetch_job_v2(character varying[], bigint)"
_FETCH_SETTING = "enable_sort=off"


def apply_procrastinate_schema(url: str) -> str:
    """Create procrastinate's schema on a new database, or upgrade it on an old one."""
    import procrastinate.schema

    target = installed_procrastinate_schema_version()
    with psycopg.connect(url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PROCRASTINATE_SCHEMA_LOCK,))
        row = conn.execute(
            "SELECT value FROM rentsync_meta WHERE key = %s", (PROCRASTINATE_VERSION_KEY,)
        ).fetchone()
        if row is None:
            has_jobs_table = conn.execute(
                "SELECT to_regclass('procrastinate_jobs') IS NOT NULL"
            ).fetchone()
            if has_jobs_table and has_jobs_table[0]:
                raise RuntimeError(
                    "procrastinate tables exist but rentsync_meta does not record their "
                    f"version; add a row with key {PROCRASTINATE_VERSION_KEY!r} and the "
                    "version of the procrastinate that created them (e.g. '03.04.00')"
                )
            conn.execute(procrastinate.schema.SchemaManager.get_schema())
            applied = "schema " + target
        else:
            current = row[0]
            if current > target:
                raise RuntimeError(
                    f"this database was upgraded by a newer rentsync (procrastinate schema "
                    f"{current} > {target}); install that version"
                )
            folder, files = _procrastinate_files()
            pending = procrastinate_migrations_after(current, files)
            for name in pending:
                conn.execute((folder / name).read_text())
            applied = ", ".join(pending) or "nothing"
        _ensure_queue_lock_index(conn)
        conn.execute(
            "INSERT INTO rentsync_meta (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (PROCRASTINATE_VERSION_KEY, target),
        )
    return applied


def _ensure_queue_lock_index(conn: psycopg.Connection[Any]) -> None:
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (_QUEUE_LOCK_INDEX,)).fetchone()
    if not (exists and exists[0]):
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {_QUEUE_LOCK_INDEX} ON procrastinate_jobs (lock) "
            "WHERE status IN ('todo', 'doing')"
        )
    fetch = conn.execute(
        "SELECT proconfig FROM pg_proc WHERE oid = to_regprocedure(%s)", (_FETCH_FUNCTION,)
    ).fetchone()
    if fetch is None:
        # A procrastinate whose fetch has another signature: our index may then make its plan
        # far worse (see above), so say so loudly rather than run on silently.
        log.warning(
            "procrastinate's fetch function was not found; the queue's fetch may be slow",
            extra={"action": "database.queue_fetch_unknown", "function": _FETCH_FUNCTION},
        )
    elif _FETCH_SETTING not in (fetch[0] or []):
        name, value = _FETCH_SETTING.split("=")
        conn.execute(f"ALTER FUNCTION {_FETCH_FUNCTION} SET {name} = {value}")


def migrate(url: str) -> None:
    own = apply_own_migrations(url)
    queue = apply_procrastinate_schema(url)
    log.info(
        "schema up to date",
        extra={"action": "database.migrated", "applied": own, "procrastinate": queue},
    )
