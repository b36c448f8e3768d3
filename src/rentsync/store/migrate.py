"""Bring a database to the current schema: rentsync's migrations (yoyo) and procrastinate's.

Runs at every start; safe to run from several processes at once (both steps hold a lock).
An older database is upgraded in place; a newer one (created by a later rentsync) is refused.
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "rentsync.store"
PROCRASTINATE_VERSION_KEY = "procrastinate_schema_version"
# Any constant works; it only has to be the same in every rentsync process.
_PROCRASTINATE_SCHEMA_LOCK = 0x52534E43
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
        with backend.lock():
            pending = backend.to_apply(migrations)
            if upto is not None:
                pending = pending.filter(lambda m: m.id <= upto)
            backend.apply_migrations(pending)
        return [m.id for m in pending]
    finally:
        backend.connection.close()


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
        conn.execute(
            "INSERT INTO rentsync_meta (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (PROCRASTINATE_VERSION_KEY, target),
        )
    return applied


def migrate(url: str) -> None:
    own = apply_own_migrations(url)
    queue = apply_procrastinate_schema(url)
    log.info(
        "schema up to date",
        extra={"action": "database.migrated", "applied": own, "procrastinate": queue},
    )
