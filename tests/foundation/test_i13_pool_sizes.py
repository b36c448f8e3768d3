"""Issue 13, P4: each process's database pool holds the slots of the lanes it runs + 10
(README, `RENTSYNC_BULK_CONCURRENCY`); `serve --no-worker` runs no lane."""

from __future__ import annotations

from pathlib import Path

import pytest

from rentsync import bootstrap
from rentsync.jobs import Lanes
from rentsync.settings import Settings

SETTINGS = Settings(
    database_url=None,
    data_dir=Path("/nonexistent"),
    secret_key=None,
    worker_concurrency=10,
    bulk_concurrency=40,
)


def test_i13_serve_without_a_worker_keeps_only_the_api_share() -> None:
    """It kept 20 connections, as if it ran the real-time lane (10 would do)."""
    for lanes in Lanes:
        assert bootstrap.pool_sizes(SETTINGS, with_worker=False, lanes=lanes) == (10, 10)


@pytest.mark.parametrize(
    ("lanes", "sizes"),
    [
        (Lanes.SPLIT, (20, 20)),  # its bulk lane runs in a child process with a pool of its own
        (Lanes.REALTIME, (20, 20)),
        (Lanes.BULK, (10, 50)),
        (Lanes.BOTH, (20, 60)),
    ],
)
def test_i13_a_worker_keeps_its_real_time_share_and_opens_its_bulk_share_on_demand(
    lanes: Lanes, sizes: tuple[int, int]
) -> None:
    assert bootstrap.pool_sizes(SETTINGS, with_worker=True, lanes=lanes) == sizes
