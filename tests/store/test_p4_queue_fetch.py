"""procrastinate's fetch finds a job's lock holders through an index of its own (issue 13, P4).

Every sync job has a lock (its document's), and procrastinate's fetch asks, for each candidate,
whether an open job holds the same lock. Without an index on `lock` that probe read every open
job's index entry, with hundreds queued the largest part of the database's CPU. rentsync adds
the index after procrastinate's schema; these tests hold that it is there, that an upgrade which
lost it gets it back, that the installed procrastinate's own fetch statement (planned with the
settings its function carries) uses it, that it never turns the fetch into a walk over every
queued job when the statistics saw none (finished jobs are kept, so that is the usual state),
and that jobs sharing a lock still run one at a time, in order.
"""

from __future__ import annotations

import re

import psycopg
import pytest

from rentsync.store import migrate

INDEX = "rentsync_procrastinate_jobs_open_lock"
QUEUED = 500


def _index_names(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'procrastinate_jobs'"
        ).fetchall()
    return {row[0] for row in rows}


def _fetch_statement(conn: psycopg.Connection) -> str:
    """The installed procrastinate's fetch (its function's one statement), with the queue list
    and worker filled in, so that EXPLAIN plans exactly what a worker's fetch runs."""
    row = conn.execute(
        "SELECT prosrc FROM pg_proc WHERE proname = 'procrastinate_fetch_job_v2'"
    ).fetchone()
    assert row is not None, "procrastinate's fetch function is not installed"
    found = re.search(r"(WITH candidate AS \(.*?RETURNING procrastinate_jobs\.\*)", row[0], re.S)
    assert found, "procrastinate's fetch no longer has the statement these tests plan"
    statement = found.group(1)
    statement = statement.replace("target_queue_names", "ARRAY['sync']::varchar[]")
    return statement.replace("p_worker_id", "NULL")


def _queue(conn: psycopg.Connection, jobs: int, *, analyse: bool = True) -> None:
    conn.execute(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, args) "
        "SELECT 'sync', 'sync_document', 'c1:order:O-' || n, '{}' "
        "FROM generate_series(1, %s) AS n",
        (jobs,),
    )
    if analyse:
        conn.execute("ANALYZE procrastinate_jobs")


def _fetch_settings(conn: psycopg.Connection) -> list[str]:
    row = conn.execute(
        "SELECT proconfig FROM pg_proc WHERE proname = 'procrastinate_fetch_job_v2'"
    ).fetchone()
    assert row is not None
    return list(row[0] or [])


def _plan(conn: psycopg.Connection) -> str:
    """EXPLAIN of the fetch's statement under the settings its function runs with."""
    with conn.transaction():
        for setting in _fetch_settings(conn):
            name, value = setting.split("=", 1)
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))
        return "\n".join(row[0] for row in conn.execute("EXPLAIN " + _fetch_statement(conn)))


def test_p4_the_queue_has_an_index_on_open_jobs_locks(database_url: str) -> None:
    assert INDEX in _index_names(database_url)


def test_p4_a_database_that_lost_the_lock_index_gets_it_back_on_the_next_start(
    database_url: str,
) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(f"DROP INDEX {INDEX}")
    assert INDEX not in _index_names(database_url)
    migrate.migrate(database_url)
    assert INDEX in _index_names(database_url)


def test_p4_the_fetch_plans_without_sorting_again_after_its_function_was_replaced(
    database_url: str,
) -> None:
    """A procrastinate upgrade that replaces the function drops its settings; the next start
    sets them again."""
    with psycopg.connect(database_url) as conn:
        assert _fetch_settings(conn) == ["enable_sort=off"]
        conn.execute("ALTER FUNCTION procrastinate_fetch_job_v2(varchar[], bigint) RESET ALL")
        assert _fetch_settings(conn) == []
    migrate.migrate(database_url)
    with psycopg.connect(database_url) as conn:
        assert _fetch_settings(conn) == ["enable_sort=off"]


def test_p4_the_fetch_finds_lock_holders_through_the_index(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        _queue(conn, QUEUED)
        plan = _plan(conn)
    assert "on procrastinate_jobs other_jobs" in plan
    probe = next(line for line in plan.splitlines() if "other_jobs" in line)
    assert INDEX in probe, plan


def test_p4_a_fetch_takes_the_next_job_by_priority_when_the_statistics_saw_no_queue(
    database_url: str,
) -> None:
    """Analysed with only finished jobs, then a burst queued: the fetch still walks the queue's
    own priority index and stops at the first job it can take, never every queued job and a
    sort (with the index on open jobs' locks and sorting allowed, it did: 6.7 s a fetch)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, args, status) "
            "SELECT 'sync', 'sync_document', 'c1:order:old-' || n, '{}', 'succeeded' "
            "FROM generate_series(1, 100000) AS n"
        )
        conn.execute("VACUUM ANALYZE procrastinate_jobs")
        _queue(conn, 5000, analyse=False)
        plan = _plan(conn)
    outer = next(line for line in plan.splitlines() if "procrastinate_jobs jobs" in line)
    assert "procrastinate_jobs_priority_idx_v1" in outer, plan
    assert "Sort" not in plan, plan


@pytest.mark.parametrize("queued", [1, QUEUED])
def test_p4_jobs_sharing_a_lock_still_run_one_at_a_time_in_order(
    database_url: str, queued: int
) -> None:
    fetch = "SELECT id, lock FROM procrastinate_fetch_job_v2(ARRAY['sync']::varchar[], NULL)"
    with psycopg.connect(database_url, autocommit=True) as conn:
        _queue(conn, queued - 1)
        first, second = (
            conn.execute(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, args) "
                "VALUES ('sync', 'sync_document', 'c1:order:shared', '{}') RETURNING id"
            ).fetchone()[0]
            for _ in range(2)
        )
        taken = [conn.execute(fetch).fetchone() for _ in range(queued + 1)]
        held = [row for row in taken if row is not None and row[1] == "c1:order:shared"]
        assert held == [(first, "c1:order:shared")]
        assert taken[-1] == (None, None), "the second job of the lock ran beside the first"
        conn.execute("SELECT procrastinate_finish_job_v1(%s, 'succeeded', false)", (first,))
        assert conn.execute(fetch).fetchone() == (second, "c1:order:shared")
