"""Migrations produce the declared schema, run twice safely, and upgrade an older database."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from rentsync.store import migrate
from tests.conftest import PgServer

_names = itertools.count()

CATALOGUE_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name NOT LIKE 'procrastinate%%'
          AND table_name NOT LIKE '%%yoyo%%'
        ORDER BY 1, 2""",
    "constraints": """
        SELECT conrelid::regclass::text, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace
          AND conrelid::regclass::text NOT LIKE 'procrastinate%%'
          AND conrelid::regclass::text NOT LIKE '%%yoyo%%'
        ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename NOT LIKE 'procrastinate%%'
          AND tablename NOT LIKE '%%yoyo%%'
        ORDER BY 1, 2""",
    "functions": """
        SELECT proname, pg_get_functiondef(oid) FROM pg_proc
        WHERE pronamespace = 'public'::regnamespace AND proname NOT LIKE 'procrastinate%%'
        ORDER BY 1, 2""",
}


@pytest.fixture
def empty_database(pg_server: PgServer) -> Iterator[str]:
    created: list[str] = []

    def make() -> str:
        name = f"rentsync_mig_{next(_names)}"
        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return pg_server.url_for(name)

    yield make
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def catalogue(url: str) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(url) as conn:
        return {key: conn.execute(query).fetchall() for key, query in CATALOGUE_QUERIES.items()}


@pytest.mark.external_pg
def test_migrations_produce_the_declared_schema(empty_database) -> None:
    declared, migrated = empty_database(), empty_database()
    with psycopg.connect(declared) as conn:
        conn.execute(migrate.declared_schema())
    migrate.apply_own_migrations(migrated)
    assert catalogue(migrated) == catalogue(declared)
    assert catalogue(migrated)["columns"], "the comparison must cover some tables"


@pytest.mark.external_pg
def test_migrating_twice_changes_nothing(empty_database) -> None:
    url = empty_database()
    migrate.migrate(url)
    before = catalogue(url)
    migrate.migrate(url)
    assert catalogue(url) == before
    with psycopg.connect(url) as conn:
        version = conn.execute(
            "SELECT value FROM rentsync_meta WHERE key = %s", (migrate.PROCRASTINATE_VERSION_KEY,)
        ).fetchone()
    assert version == (migrate.installed_procrastinate_schema_version(),)


def _migration_ids() -> list[str]:
    return sorted(p.stem for p in migrate.migrations_dir().glob("*.sql"))


@pytest.mark.external_pg
@pytest.mark.parametrize("older", _migration_ids()[:-1] or ["none"])
def test_database_of_an_older_version_upgrades_and_keeps_its_data(
    empty_database, older: str
) -> None:
    url = empty_database()
    applied = migrate.apply_own_migrations(url, upto=older) if older != "none" else []
    assert applied == [m for m in _migration_ids() if m <= older]
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO diagnostic_pings DEFAULT VALUES")
    migrate.migrate(url)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM diagnostic_pings").fetchone() == (1,)
    fresh = empty_database()
    migrate.migrate(fresh)
    assert catalogue(url) == catalogue(fresh)


def test_procrastinate_upgrade_applies_only_newer_migrations_in_order() -> None:
    files = [
        "03.02.00_01_pre_x.sql",
        "03.03.00_01_pre_y.sql",
        "03.03.00_50_post_y.sql",
        "03.01.00_01_pre_old.sql",
        "README.txt",
    ]
    assert migrate.procrastinate_migrations_after("03.02.00", files) == [
        "03.03.00_01_pre_y.sql",
        "03.03.00_50_post_y.sql",
    ]
    assert migrate.procrastinate_migrations_after("03.03.00", files) == []


def test_a_database_from_a_newer_rentsync_is_refused(empty_database) -> None:
    url = empty_database()
    migrate.migrate(url)
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE rentsync_meta SET value = '99.00.00'")
    with pytest.raises(RuntimeError, match="newer rentsync"):
        migrate.migrate(url)


def test_a_lock_left_by_a_killed_migrating_process_does_not_stop_the_next_start(
    empty_database,
) -> None:
    """A process killed while migrating (the chaos test kills workers and PostgreSQL at start)
    left yoyo's lock row behind; every later start then failed with LockTimeout until someone
    ran `yoyo break-lock`. rentsync's lock is PostgreSQL's, which ends with its session."""
    url = empty_database()
    migrate.migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, now(), 999999) "
            "ON CONFLICT DO NOTHING"
        )
    started = time.monotonic()
    assert migrate.apply_own_migrations(url) == []
    assert time.monotonic() - started < 5  # yoyo's lock waited 10 s, then raised


def test_migrations_wait_for_one_another(empty_database) -> None:
    """Two processes starting at once: the second waits while the first holds the lock."""
    url = empty_database()
    migrate.migrate(url)
    done = threading.Event()
    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (migrate._OWN_MIGRATIONS_LOCK,))
        waiting = threading.Thread(
            target=lambda: (migrate.apply_own_migrations(url), done.set()), daemon=True
        )
        waiting.start()
        assert not done.wait(1.0)
    # The holder's session ended (as a killed process's does): the waiting one goes on.
    assert done.wait(30)
