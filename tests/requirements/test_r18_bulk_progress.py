"""R18: a bulk sync's progress is added up as its orders end (the dispatch step settles them),
not counted over every item on each read; at every moment it still adds up to the run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from rentsync.domain.bulk import Plan, Planned, Selection, State
from rentsync.settings import Settings
from rentsync.store import bulk_syncs as bulk_store
from rentsync.store.bulk_syncs import BulkSyncRepository, BulkSyncRow, PlannedItem
from tests import ingest_fixtures as make
from tests.requirements.test_r18_bulk_sync import BULK, backlog
from tests.sync_rig import rig_for

ORDERS = 30
PATIENCE_SECONDS = 240


async def test_r18_progress_adds_up_to_the_run_at_every_moment_and_settles_each_order_once(
    settings: Settings,
) -> None:
    fast = {"sync_transient_base_seconds": 0.05, "worker_concurrency": 8}
    async with rig_for(settings, settings_overrides=fast) as rig:
        await backlog(rig, ORDERS)
        for number in range(ORDERS):
            await rig.settled("orders", f"BO-{number}")
        await rig.connect()
        await rig.map_accounts()
        # Lost answers and 5xx: orders go back to pending and retry, so they end at any time.
        await rig.faults({"seed": 3, "drop_after_commit_rate": 0.2, "error_rate": 0.1})
        created = await rig.api.post(BULK, json={"start": True}, headers=rig.headers)
        assert created.status_code == 202, created.text
        bulk_id = created.json()["id"]
        # Under these faults a document may fail several times in a row, and each retry waits
        # about as long as it has been failing (sync/retry.py): an unlucky run takes 30 s or
        # more, so the bound is time (generous), not a count of reads.
        give_up_at = time.monotonic() + PATIENCE_SECONDS
        reads = 0
        while True:
            response = await rig.api.get(f"{BULK}/{bulk_id}", headers=rig.headers)
            assert response.status_code == 200, response.text
            body = response.json()
            progress = body["progress"]
            if body["state"] in ("running", "done"):
                reads += 1
                parts = ("waiting", "in_sync", "created", "updated", "skipped", "failed")
                assert sum(progress[part] for part in parts) == ORDERS, progress
            if body["state"] == "done":
                break
            assert time.monotonic() < give_up_at, f"bulk sync {bulk_id} never finished: {body}"
            await asyncio.sleep(0.01)
        await rig.faults({})
        assert reads > 1  # the sum was checked while the run went on, not only at its end
        assert progress["created"] == ORDERS and progress["waiting"] == progress["in_sync"] == 0
        services = rig.api.app.state.services  # type: ignore[attr-defined]
        async with services.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT (SELECT sum((c->>2)::int) FROM jsonb_array_elements(settled_counts) c), "
                "(SELECT count(*) FROM bulk_sync_items WHERE bulk_sync_id = b.id "
                "AND settled_at IS NULL) FROM bulk_syncs b WHERE id = %s",
                (bulk_id,),
            )
            settled, unsettled = await cursor.fetchone()
        assert (settled, unsettled) == (ORDERS, 0)
        # An order changed after the run settled it: the run's figures stay what the run did.
        changed = make.order(
            "B7000", customer_id="BC-0", lines=[("BP-0", "2", "125.00")], version=99
        )
        assert (await rig.put("orders", "BO-0", changed)).status_code < 300
        await rig.settled("orders", "BO-0")
        after = (await rig.api.get(f"{BULK}/{bulk_id}", headers=rig.headers)).json()
        assert after["progress"]["created"] == ORDERS


async def test_r18_a_run_is_done_only_once_each_order_it_handed_over_is_settled(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job may end between the dispatch step's settling statement and its done check (each
    statement of a READ COMMITTED transaction reads its own snapshot): the order was still
    pending when the step settled, and no longer pending when it checked. The step must not
    call the run done with that order unsettled (the flaky progress test above saw 26 settled
    of 30 in a run marked done); the next step settles it, then the run is done."""
    async with rig_for(settings, with_worker=False) as rig:
        await rig.put("orders", "RO-1", make.order("7101"))
        services = rig.api.app.state.services  # type: ignore[attr-defined]
        repository = BulkSyncRepository(services.pool)
        created = await repository.create(rig.company_id, Selection(), start_when_previewed=True)
        item = PlannedItem(source_id="RO-1", revision=1, plan=Plan(planned=Planned.CREATE))
        assert await repository.add_preview_chunk(
            created, [item], references=[], reference_calls=2, after=None, last=True
        )

        async def step() -> BulkSyncRow:
            running = await repository.get(created.id)
            assert running is not None
            await repository.dispatch(running, window=10)
            after = await repository.get(created.id)
            assert after is not None
            return after

        await step()  # references phase: none, on to the orders
        handed = await step()
        assert handed.dispatched == 1 and handed.state == State.RUNNING

        settle = bulk_store._settle

        async def settle_then_the_job_ends(conn: Any, bulk_id: int) -> None:
            await settle(conn, bulk_id)
            # The order's job commits its outcome right after the settling statement.
            async with services.pool.connection() as other:
                await other.execute(
                    "UPDATE sync_records SET state = 'synced' WHERE company_id = %s "
                    "AND doc_type = 'order' AND source_id = 'RO-1'",
                    (rig.company_id,),
                )

        monkeypatch.setattr(bulk_store, "_settle", settle_then_the_job_ends)
        raced = await step()
        monkeypatch.setattr(bulk_store, "_settle", settle)
        unsettled = await _unsettled(services.pool, created.id)
        assert raced.state != State.DONE or unsettled == 0, (raced.state, unsettled)
        done = await step()
        assert done.state == State.DONE
        assert await _unsettled(services.pool, created.id) == 0
        outcomes = await repository.outcomes(created.id)
        assert [(o.planned, o.outcome, o.count) for o in outcomes] == [("create", "synced", 1)]


async def _unsettled(pool: Any, bulk_id: int) -> int:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM bulk_sync_items WHERE bulk_sync_id = %s AND settled_at IS NULL",
            (bulk_id,),
        )
        row = await cursor.fetchone()
    return int(row[0])
